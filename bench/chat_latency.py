"""Slack command latency: signed /kensaku commands to a real server, replies caught by the Slack stand-in.

Prints the acknowledgement time (Slack's limit is 3 s) and the time until the Block Kit reply reaches
the response_url, for Japanese and English questions. Reuses the test suite's server launcher and
Slack stand-in (tests/slack_standin.py: a local server speaking Slack's documented Web API).

    python bench/chat_latency.py --docs 2000 --commands 100
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.metrics import markdown_table  # noqa: E402
from tests.conftest import ROLE, Server, make_client, put_and_wait, text_doc, wait_active  # noqa: E402
from tests.slack_standin import SlackStandIn  # noqa: E402
from tests.test_chat_slack import SECRET, TOKEN, Chat  # noqa: E402

JA_WORDS = ["経費精算", "締め日", "有給休暇", "申請", "東京都", "出張", "交通費", "勤怠", "規程", "承認"]
EN_WORDS = ["expense", "deadline", "vacation", "request", "travel", "approval", "policy", "laptop", "vpn", "badge"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--commands", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)
    slack = SlackStandIn(TOKEN).start()
    with tempfile.TemporaryDirectory(prefix="kensaku-chat-bench-") as tmp:
        server = Server(Path(tmp), env={"KENSAKU_SLACK_SIGNING_SECRET": SECRET, "KENSAKU_SLACK_BOT_TOKEN": TOKEN,
                                        "KENSAKU_SLACK_API_URL": f"{slack.url}/api/"}).start()
        try:
            kendra = make_client(server.url, check_responses=False)
            index_id = kendra.create_index(Name="chat-bench", RoleArn=ROLE)["Id"]
            wait_active(kendra, index_id)
            docs = []
            for n in range(args.docs):
                ja = n % 2 == 0
                words = JA_WORDS if ja else EN_WORDS
                body = ("。" if ja else ". ").join(" ".join(rng.choices(words, k=8)) for _ in range(6))
                docs.append(text_doc(f"d{n}", body, title=" ".join(rng.choices(words, k=3)), lang="ja" if ja else "en"))
            put_and_wait(kendra, index_id, docs)
            chat = Chat(server, slack, index_id)
            rows = []
            for lang, words in (("ja", JA_WORDS), ("en", EN_WORDS)):
                acks, replies = [], []
                for _ in range(args.commands):
                    question = " ".join(rng.sample(words, 2))
                    started = time.perf_counter()
                    response, url = chat.command(question)
                    acks.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                    chat.reply_to(url)
                    replies.append((time.perf_counter() - started) * 1000)
                for name, values in ((f"ack, {lang}", acks), (f"reply posted, {lang}", replies)):
                    rows.append([name, f"{percentile(values, 50):.1f}", f"{percentile(values, 95):.1f}",
                                 f"{max(values):.1f}"])
            print(f"{args.docs} documents, {args.commands} commands per language, one at a time\n")
            print(markdown_table(["slash command", "p50 ms", "p95 ms", "max ms"], rows))
        finally:
            server.stop()
            slack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
