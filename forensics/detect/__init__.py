"""Detection: YARA rules, validators, masking."""
