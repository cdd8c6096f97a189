"""Rasa NLU components of the assistant (imported by Rasa through config.yml)."""
