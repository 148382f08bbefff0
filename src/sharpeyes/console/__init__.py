"""The web console's own server-side state: saved live layouts and camera groups per user."""
