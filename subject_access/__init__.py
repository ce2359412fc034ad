"""Subject access (UK GDPR Art. 15): the request, the bundle, its redactions and its PDF."""
