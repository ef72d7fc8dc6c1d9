"""POS/EC webhooks: the canonical event, the intake edge, and one adapter module per platform kind
(``generic``, ``shopify``). Adding a platform (SHOPLINE, 91APP, ...) is one module here plus one
entry in :data:`omo2c.sources.intake.ADAPTERS`."""
