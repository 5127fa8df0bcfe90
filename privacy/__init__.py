"""Disclosure control: what is published must not single out a household (the attacker lives here too)."""
