"""Built-in actions. The registry (``responder.actions.registry``) maps names to them."""
