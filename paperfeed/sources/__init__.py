"""Sources: parse upstream payloads and files into plain models; they never touch the database."""
