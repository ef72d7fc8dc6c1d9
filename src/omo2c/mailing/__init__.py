"""E-mail preferences: signed unsubscribe links, one-click unsubscribe, and SES bounces and complaints."""
