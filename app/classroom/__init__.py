"""The classroom: a class follows the lecturer's step-through live (sessions, join codes, the follow stream)."""
