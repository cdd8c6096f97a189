"""原上管家 service core: importable and testable without Rasa."""
