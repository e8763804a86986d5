"""``kensaku search``: one Kendra Query from the command line, printed as text or JSON.

For scripts and for other chat tools' outgoing webhooks: exit status 0 with results, 1 when the
endpoint refused or could not be reached (the Kendra error is printed), 2 when no index could be chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kernel.language import detect_language
from services.chat.client import IndexNotChosen, SearchClient
from services.chat.language import Question
from services.chat.terminal import render_text

DEFAULT_ENDPOINT = "http://127.0.0.1:8000"


def run_search(args: argparse.Namespace) -> int:
    """Run the query in ``args`` (see kensaku/cli.py for the options); returns the exit status."""
    text = " ".join(args.question.split())
    question = Question(text, args.lang) if args.lang else Question(text, detect_language(text))
    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL_KENDRA") or DEFAULT_ENDPOINT
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    client = SearchClient(endpoint, args.index, channel=args.channel, region=region)
    try:
        response = client.search(question.text, question.language, page_size=args.results)
    except IndexNotChosen as error:
        print(f"kensaku search: {error} (--index ID)", file=sys.stderr)
        return 2
    except ClientError as error:
        e = error.response.get("Error", {})
        print(f"kensaku search: {e.get('Code', 'Error')}: {e.get('Message', '')}", file=sys.stderr)
        return 1
    except BotoCoreError as error:
        print(f"kensaku search: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(response, ensure_ascii=False, indent=2, default=_json_default))
    else:
        print(render_text(response, question, bold=sys.stdout.isatty()))
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
