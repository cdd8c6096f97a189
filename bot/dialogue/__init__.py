"""Conversation helpers shared by every channel: pure logic, no desk or Rasa imports."""
