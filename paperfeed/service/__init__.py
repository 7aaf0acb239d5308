"""What a member does (submit, vote, comment, curate, save, hide): plain functions that pages, the JSON API and the CLI call."""
