"""Data coming in from other systems: HIS episodes (XML 130), the population CSV import, and other feeds."""
