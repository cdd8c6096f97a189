"""Rasa custom actions: a thin layer over the service core in bot/."""
from bot import logmask

# rasa_sdk configures its own log handlers; the record factory masks phone and ID numbers
# in every record whatever handler prints it (bot/logmask.py).
logmask.install()
