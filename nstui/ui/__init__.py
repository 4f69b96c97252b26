"""The Textual user interface: app, views, screens and widgets."""
