"""Reliability and security suite (issue 8): backend faults, protocol input, secrets, load."""
