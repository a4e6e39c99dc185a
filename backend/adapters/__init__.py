"""Adapters: the outside world (Stripe, localstripe) behind the ports services own."""
