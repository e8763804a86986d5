"""The application: assembles services, analytics and connectors into Kensaku's processes and CLI.

The one package that may import every other; nothing imports it (tests/test_house.py checks the graph).
"""
