"""memagent: long-term, personalized memory for LLM assistants."""
