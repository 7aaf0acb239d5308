"""The MCP server: paperfeed's reads and a member's actions as tools for AI agents (stdio and HTTP)."""
