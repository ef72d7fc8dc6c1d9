"""Who is calling: the admin token, API keys and LINE Login ID tokens, and what each may see."""
