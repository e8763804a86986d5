"""The chat command: Slack's slash command and app mention, and the ``kensaku search`` twin.

Both are Kendra clients of the query service (``client.SearchClient``). Rendering is kept apart from
transport: ``blocks`` turns a Kendra Query response into a Block Kit message, ``slack`` wires it to
slack-bolt, ``terminal`` prints it for the command line. Another chat tool is one more module next to
``slack`` that reuses ``client`` and a renderer.
"""
