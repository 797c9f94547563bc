"""Tuning libraries behind one strategy interface (`adapters.base.Strategy`)."""
