"""The step-through page: its routes, event stream, configuration form, run store and view."""
