"""The resident portal (村情通): report and ask, follow up and rate, public cases, resident accounts."""
