"""Personal recommendations: a member's library, per-member models over embeddings, cached results."""
