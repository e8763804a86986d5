"""Ingest throughput and query latency of Kensaku through the Kendra API (boto3 ``kendra`` client).

    python bench/latency.py [--endpoint URL] [--docs 100000] [--queries 2000]
                            [--engine embedded,opensearch] [--opensearch-url URL]

1. Generates ``--docs`` synthetic documents of about 1 KB of UTF-8 text each (deterministic, lazily, so the
   script's memory stays small): even numbers Japanese (sentences built from ~500 common Japanese words),
   odd numbers English (a 2000-word vocabulary: the most frequent words of the xquad-en corpus, or
   generated pseudo-words if the shared data is missing). Words are drawn Zipf-distributed (s = 1), so a
   few words are very common and most are rare. Attributes: ``_language_code``, ``dept`` (STRING, 10
   values), ``tags`` (STRING_LIST, 1-3 of 20), ``year`` (LONG, 2015-2024), ``_created_at`` (DATE).
2. CreateIndex, UpdateIndex with the metadata configuration of dept/tags/year, wait ACTIVE.
3. BatchPutDocument, 10 documents a call, ``--put-workers`` concurrent callers; waits until DescribeIndex
   IndexStatistics.TextDocumentStatistics.IndexedTextDocumentsCount == N and a sample of documents is
   INDEXED (BatchGetDocumentStatus); reports documents/s end to end (first put -> all searchable).
4. Sequential queries from one client over HTTP after 50 warm-up queries, ``--queries`` measured in total,
   interleaved over the kinds: one word / three words in English (no filter: Kendra searches English by
   default) and Japanese (``_language_code`` = ja filter), and filtered + faceted queries (AndAllFilters of
   language, dept EqualsTo, year GreaterThanOrEquals; Facets dept with nested tags, and year). Query words
   are drawn uniformly over the vocabulary ranks (a mix of common and rare words). Prints p50/p95/p99/mean
   ms per kind, checks that results honour the filters, and prints the server's peak RSS (VmHWM, only when
   this script started the server).

``--engine embedded,opensearch`` runs all of it once per engine (KENSAKU_ENGINE), one server after the
other, with the same documents and queries, and prints one table with a row per engine; the OpenSearch
server uses the cluster at ``--opensearch-url`` under an index prefix of its own, whose indexes are
deleted at the end (``--keep-data`` keeps them), and its JVM's heap and RSS are printed. The load
average is sampled while each engine indexes and answers. Keyword-search numbers (docs/measurements.md) are
measured with KENSAKU_SEARCH_MODE=lexical KENSAKU_EMBEDDER=none in the environment.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import resource
import sys
import time
import traceback
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    COUNTERS,
    DEFAULT_OPENSEARCH_URL,
    ENGINES,
    BenchError,
    LoadSampler,
    LocalServer,
    call,
    chunks,
    create_index,
    delete_opensearch_indexes,
    dir_size,
    document_statuses,
    engine_env,
    error_text,
    indexed_count,
    make_client,
    opensearch_indexes,
    opensearch_memory,
    opensearch_prefix,
    parse_engines,
    percentile,
    proc_status_kb,
    process_tree,
    put_documents,
    wait_index_active,
)
from metrics import eval_dir, markdown_table  # noqa: E402

# ------------------------------------------------------------------------------------------- vocabulary

JA_NOUNS = """
会議 資料 予算 売上 利益 顧客 契約 製品 商品 価格 費用 経費 請求書 見積書 報告書 議事録 計画 目標 戦略 市場
競合 分析 調査 結果 課題 問題 対策 改善 品質 安全 環境 設備 機械 工場 倉庫 在庫 物流 配送 注文 発注
納期 取引先 営業 販売 広告 広報 人事 採用 面接 社員 従業員 部長 課長 社長 役員 担当者 上司 部下 同僚 新人
研修 教育 評価 給与 賞与 休暇 勤怠 残業 出張 交通費 手当 保険 年金 税金 申請 承認 決裁 手続き 書類 様式
規程 規則 方針 制度 法律 基準 指針 手順 説明 案内 連絡 通知 依頼 相談 質問 回答 苦情 要望 提案 意見
感想 統計 情報 記録 履歴 画面 会社 部署 支店 本社 事務所 会議室 受付 窓口 名刺 印鑑 署名 押印 封筒 切手
郵便 荷物 宅配 倉庫 備品 文房具 机 椅子 棚 鍵 電気 照明 空調 暖房 冷房 換気 掃除 清掃 点検 修理
故障 交換 保守 監視 障害 復旧 停止 再開 移行 導入 運用 構築 設計 開発 試験 検証 仕様 要件 機能 性能
容量 速度 負荷 接続 通信 回線 暗号 認証 権限 利用者 管理者 パスワード 端末 機器 部品 材料 原料 燃料 電池
天気 季節 春 夏 秋 冬 朝 昼 夜 今日 明日 昨日 週末 平日 祝日 年末 年始 月末 期限 予定
東京 大阪 京都 名古屋 福岡 札幌 横浜 神戸 仙台 広島 沖縄 北海道 九州 四国 関東 関西 日本 世界 海外 国内
地域 都市 駅 空港 道路 橋 川 山 海 森 公園 学校 大学 病院 図書館 博物館 美術館 神社 寺 城
歴史 文化 芸術 音楽 映画 小説 写真 料理 食事 野菜 果物 魚 肉 米 茶 酒 水 牛乳 卵 パン
科学 技術 研究 実験 理論 数学 物理 化学 生物 医学 経済 政治 社会 教育 言語 哲学 心理 宗教 地理 気候
会話 文章 単語 意味 表現 翻訳 辞書 漢字 文字 記号 数字 番号 住所 氏名 年齢 性別 職業 趣味 家族 友人
子供 両親 祖父 祖母 兄弟 姉妹 夫婦 結婚 誕生日 健康 病気 治療 薬 医者 看護師 患者 手術 検査 予防
運動 散歩 旅行 観光 温泉 旅館 宿泊 予約 料金 割引 現金 口座 振込 送金 残高 融資 投資 株式 債券 為替
輸出 輸入 貿易 関税 生産 消費 需要 供給 景気 物価 賃金 雇用 失業 人口 高齢化 少子化 都市化 災害 地震
台風 洪水 火事 事故 事件 警察 消防 救急 避難 訓練 防災 対応 支援 協力 交流 連携 提携 合併 買収 設立
創業 上場 決算 株主 配当 資本 負債 資産 収益 損失 黒字 赤字 成長 拡大 縮小 撤退 参入 競争 独占 規制
緩和 改革 政策 選挙 議会 政府 内閣 大臣 知事 市長 自治体 役所 住民 市民 国民 外国人 留学生 観光客 若者 高齢者
新聞 雑誌 放送 番組 記事 取材 記者 編集 出版 印刷 書籍 作家 作品 画家 歌手 俳優 監督 選手 試合 大会
優勝 記録 練習 野球 サッカー テニス 水泳 柔道 相撲 将棋 囲碁 電車 バス 自動車 自転車 飛行機 船 鉄道 新幹線
会員 登録 退会 更新 変更 削除 追加 設定 初期化 保存 印刷物 共有 公開 非公開 閲覧 編集者 作成者 承認者 期日
コンピュータ ソフトウェア アプリ データ データベース サーバー ネットワーク システム ファイル フォルダ メール メッセージ
パソコン プリンター スマートフォン タブレット カメラ マイク スピーカー モニター キーボード マウス ケーブル
インターネット ウェブサイト ホームページ ブラウザ クラウド セキュリティ ウイルス バックアップ アカウント ログイン
プロジェクト スケジュール タスク ミーティング プレゼン レポート マニュアル ガイド ルール ポリシー チーム メンバー
リーダー マネージャー スタッフ ユーザー カスタマー サポート サービス ビジネス マーケティング ブランド キャンペーン
イベント セミナー ワークショップ トレーニング テスト レビュー フィードバック アイデア コスト リスク トラブル
"""

JA_VERBS = """
確認する 行う 使う 作る 送る 受ける 読む 書く 見る 聞く 話す 考える 決める 始める 終える 続ける 変える
進める 調べる 選ぶ 集める 届ける 守る 育てる 助ける 教える 学ぶ 働く 休む 待つ 持つ 取る 置く 出す 入れる
開く 閉じる 止める 動かす 増やす 減らす 伝える 示す 求める 認める 含む 比べる 述べる 準備する 検討する
対応する 実施する 管理する 提出する 報告する 連絡する 相談する 登録する 削除する 更新する 設定する 変更する
導入する 運用する 開発する 設計する 作成する 共有する 保存する 公開する 参加する 出席する 移動する 利用する
購入する 販売する 支払う 計算する 分析する 調整する 改善する 解決する 完了する 開始する 予約する 申請する
承認する 確保する 配布する 回収する 記入する 説明する 紹介する 案内する 評価する 整理する 記録する 検索する
見直す 話し合う 取り組む 引き継ぐ 受け付ける 問い合わせる 申し込む 書き換える 組み立てる 立ち上げる
"""

DEPTS = ["営業部", "人事部", "総務部", "経理部", "開発部", "情報システム部", "法務部", "広報部", "品質保証部", "製造部"]
TAGS = ["重要", "至急", "社外秘", "草案", "確定", "参考", "定例", "臨時", "全社", "手順書",
        "security", "finance", "onboarding", "howto", "faq", "policy", "release", "incident", "design", "review"]
YEARS = list(range(2015, 2025))

JA_PATTERNS = [
    "{0}の{1}は{2}を{v}。",
    "{0}で{1}と{2}について{v}。",
    "{0}が{1}に{v}。",
    "{0}から{1}までの{2}を{v}。",
    "{0}のため、{1}の{2}を{v}。",
    "今回は{0}と{1}を{v}。",
]


def _dedup(words):
    return list(dict.fromkeys(words))


def japanese_vocab() -> tuple[list[str], list[str]]:
    return _dedup(JA_NOUNS.split()), _dedup(JA_VERBS.split())


def english_vocab(size: int = 2000) -> tuple[list[str], str]:
    """The ``size`` most frequent lowercase words of the xquad-en corpus (ties alphabetical)."""
    path = eval_dir() / "xquad-en" / "corpus.jsonl"
    counts: Counter[str] = Counter()
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                counts.update(w for w in re.findall(r"[a-z]+", (r["title"] + " " + r["text"]).lower())
                              if len(w) >= 2 or w == "a")
    except OSError:
        counts = Counter()
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:size]
    source = f"xquad-en corpus ({len(words)} most frequent words)"
    if len(words) < size:  # fallback: deterministic pronounceable pseudo-words
        rng = random.Random(12345)
        cons, vow = "bcdfghklmnprstvwz", "aeiou"
        extra = set(words)
        while len(words) < size:
            w = "".join(rng.choice(cons) + rng.choice(vow) for _ in range(rng.randint(1, 4)))
            if w not in extra:
                extra.add(w)
                words.append(w)
        source += " + generated pseudo-words"
    return words, source


def zipf_cum_weights(n: int, s: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(n)))


# ------------------------------------------------------------------------------------------- documents


class Corpus:
    """Deterministic synthetic documents; document ``i`` depends only on (seed, i)."""

    def __init__(self, n: int, seed: int = 20240601, target_bytes: int = 1000):
        self.n = n
        self.seed = seed
        self.target_bytes = target_bytes
        self.ja_nouns, self.ja_verbs = japanese_vocab()
        self.en_words, self.en_source = english_vocab()
        self.ja_noun_cw = zipf_cum_weights(len(self.ja_nouns))
        self.ja_verb_cw = zipf_cum_weights(len(self.ja_verbs))
        self.en_cw = zipf_cum_weights(len(self.en_words))
        # Compact per-document attributes, to check filtered query results.
        self.dept = bytearray(n)
        self.year = bytearray(n)  # year - 2015
        self.bytes_total = 0

    @staticmethod
    def doc_id(i: int) -> str:
        return f"doc-{i:07d}"

    @staticmethod
    def index_of(doc_id: str) -> int:
        return int(doc_id.rsplit("-", 1)[1])

    @staticmethod
    def lang(i: int) -> str:
        return "ja" if i % 2 == 0 else "en"

    def _ja_text(self, rng: random.Random) -> tuple[str, str]:
        nouns = rng.choices(self.ja_nouns, cum_weights=self.ja_noun_cw, k=140)
        verbs = rng.choices(self.ja_verbs, cum_weights=self.ja_verb_cw, k=50)
        title = f"{nouns[0]}と{nouns[1]}の{nouns[2]}について"
        parts, size, ni = [], 0, 3
        for v in verbs:
            pat = JA_PATTERNS[rng.randrange(len(JA_PATTERNS))]
            if ni + 3 > len(nouns):
                nouns.extend(rng.choices(self.ja_nouns, cum_weights=self.ja_noun_cw, k=60))
            s = pat.format(nouns[ni], nouns[ni + 1], nouns[ni + 2], v=v)
            ni += 3
            parts.append(s)
            size += len(s.encode("utf-8"))
            if size >= self.target_bytes:
                break
        return title, "".join(parts)

    def _en_text(self, rng: random.Random) -> tuple[str, str]:
        words = rng.choices(self.en_words, cum_weights=self.en_cw, k=260)
        title = " ".join(w.capitalize() for w in words[:4])
        parts, size, wi = [], 0, 4
        while size < self.target_bytes:
            k = rng.randint(8, 16)
            if wi + k > len(words):
                words.extend(rng.choices(self.en_words, cum_weights=self.en_cw, k=100))
            sent = " ".join(words[wi:wi + k])
            wi += k
            s = sent[0].upper() + sent[1:] + ". "
            parts.append(s)
            size += len(s)
        return title, "".join(parts).strip()

    def document(self, i: int) -> dict:
        rng = random.Random(self.seed * 1_000_003 + i)
        lang = self.lang(i)
        dept = rng.randrange(len(DEPTS))
        year = rng.randrange(len(YEARS))
        self.dept[i] = dept
        self.year[i] = year
        tags = rng.sample(TAGS, rng.randint(1, 3))
        created = datetime(YEARS[year], rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                           rng.randint(0, 59), tzinfo=UTC)
        title, text = self._ja_text(rng) if lang == "ja" else self._en_text(rng)
        blob = text.encode("utf-8")
        self.bytes_total += len(blob)
        return {
            "Id": self.doc_id(i),
            "Title": title,
            "Blob": blob,
            "ContentType": "PLAIN_TEXT",
            "Attributes": [
                {"Key": "_language_code", "Value": {"StringValue": lang}},
                {"Key": "dept", "Value": {"StringValue": DEPTS[dept]}},
                {"Key": "tags", "Value": {"StringListValue": tags}},
                {"Key": "year", "Value": {"LongValue": YEARS[year]}},
                {"Key": "_created_at", "Value": {"DateValue": created}},
            ],
        }

    def documents(self):
        for i in range(self.n):
            yield self.document(i)


# ------------------------------------------------------------------------------------------- queries

KINDS = ["1 word en", "1 word ja", "3 words en", "3 words ja", "filter+facets en", "filter+facets ja"]

FACETS = [
    {"DocumentAttributeKey": "dept", "Facets": [{"DocumentAttributeKey": "tags"}]},
    {"DocumentAttributeKey": "year"},
]


def lang_filter(lang: str) -> dict:
    return {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}}


def make_query(corpus: Corpus, kind: str, rng: random.Random) -> dict:
    """Query parameters (without IndexId) plus ``_check`` expectations for the results."""
    lang = kind.rsplit(" ", 1)[1]
    vocab = corpus.ja_nouns if lang == "ja" else corpus.en_words
    n_words = 3 if kind.startswith("3") else 1
    text = " ".join(rng.choice(vocab) for _ in range(n_words))  # uniform over ranks
    params: dict = {"QueryText": text}
    check: dict = {"lang": lang}
    if kind.startswith("filter"):
        dept = rng.randrange(len(DEPTS))
        year = rng.randrange(len(YEARS))
        params["AttributeFilter"] = {"AndAllFilters": [
            lang_filter(lang),
            {"EqualsTo": {"Key": "dept", "Value": {"StringValue": DEPTS[dept]}}},
            {"GreaterThanOrEquals": {"Key": "year", "Value": {"LongValue": YEARS[year]}}},
        ]}
        params["Facets"] = FACETS
        check.update(dept=dept, year=year, facets=True)
    elif lang == "ja":
        params["AttributeFilter"] = lang_filter(lang)
    # English without a filter: Kendra searches English documents by default.
    params["_check"] = check
    return params


def check_response(corpus: Corpus, resp: dict, check: dict, problems: Counter, examples: dict) -> None:
    def bad(key: str, detail: str) -> None:
        problems[key] += 1
        examples.setdefault(key, detail)

    for item in resp.get("ResultItems") or []:
        if item.get("Type") != "DOCUMENT":
            continue
        did = item.get("DocumentId", "")
        try:
            i = Corpus.index_of(did)
        except (ValueError, IndexError):
            bad("unknown DocumentId", did)
            continue
        if not 0 <= i < corpus.n:
            bad("unknown DocumentId", did)
            continue
        if Corpus.lang(i) != check["lang"]:
            bad(f"result not in language {check['lang']}", did)
        if "dept" in check and corpus.dept[i] != check["dept"]:
            bad("result violates dept filter", did)
        if "year" in check and corpus.year[i] < check["year"]:
            bad("result violates year filter", did)
    if check.get("facets"):
        fr = {f.get("DocumentAttributeKey"): f for f in resp.get("FacetResults") or []}
        for key in ("dept", "year"):
            if key not in fr:
                bad(f"facet {key} missing", json.dumps(resp.get("FacetResults"), ensure_ascii=False)[:300])
        if "dept" in fr:
            pairs = fr["dept"].get("DocumentAttributeValueCountPairs") or []
            values = {p.get("DocumentAttributeValue", {}).get("StringValue") for p in pairs}
            if resp.get("TotalNumberOfResults") and values != {DEPTS[check["dept"]]}:
                bad("dept facet values != the filtered dept", str(values))
            if pairs and not any(p.get("FacetResults") for p in pairs) and resp.get("TotalNumberOfResults"):
                bad("nested tags facet missing under dept", json.dumps(pairs[0], ensure_ascii=False)[:300])
            total = resp.get("TotalNumberOfResults")
            counts = sum(p.get("Count", 0) for p in pairs)
            if total is not None and counts != total:
                bad("dept facet count != TotalNumberOfResults", f"{counts} vs {total}")
        if "year" in fr:
            for p in fr["year"].get("DocumentAttributeValueCountPairs") or []:
                y = p.get("DocumentAttributeValue", {}).get("LongValue")
                if y is not None and y < YEARS[check["year"]]:
                    bad("year facet value below the filter", str(y))


# ------------------------------------------------------------------------------------------- main


def rss_report(pid: int) -> dict:
    tree = process_tree(pid)
    main_hwm = proc_status_kb(pid, "VmHWM")
    main_rss = proc_status_kb(pid, "VmRSS")
    children = [p for p in tree if p != pid]
    child_hwm = sum(proc_status_kb(p, "VmHWM") or 0 for p in children)
    return {"pid": pid, "VmHWM_kB": main_hwm, "VmRSS_kB": main_rss, "children": len(children),
            "children_VmHWM_kB": child_hwm}


def mib(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f} MiB"


def make_index(client) -> str:
    """CreateIndex, UpdateIndex with the metadata configuration of dept/tags/year, wait ACTIVE."""
    index_id = create_index(client, "latency-bench")
    call(client.update_index, Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "dept", "Type": "STRING_VALUE",
         "Search": {"Facetable": True, "Searchable": True, "Displayable": True, "Sortable": True}},
        {"Name": "tags", "Type": "STRING_LIST_VALUE", "Search": {"Facetable": True, "Displayable": True}},
        {"Name": "year", "Type": "LONG_VALUE",
         "Search": {"Facetable": True, "Sortable": True, "Displayable": True}},
    ])
    wait_index_active(client, index_id)
    return index_id


def ingest(client, corpus: Corpus, index_id: str, args: argparse.Namespace) -> dict:
    """Put every document and wait until all are searchable; the ingest numbers."""
    step = max(1, args.docs // 10)
    progress = {"n": 0, "next": step, "t0": time.perf_counter()}

    def on_batch(k: int) -> None:
        progress["n"] += k
        if progress["n"] >= progress["next"]:
            dt = time.perf_counter() - progress["t0"]
            print(f"#   put {progress['n']} documents, {dt:.0f} s, {progress['n'] / dt:.0f} docs/s",
                  file=sys.stderr)
            progress["next"] += step

    corpus.bytes_total = 0
    t0 = time.perf_counter()
    put = put_documents(client, index_id, chunks(corpus.documents(), 10), workers=args.put_workers,
                        on_batch=on_batch)
    t_put = time.perf_counter() - t0
    if put["errors"]:
        raise BenchError(f"{len(put['errors'])} BatchPutDocument calls failed, first: {put['errors'][0]}")
    if put["failed"]:
        raise BenchError(f"{len(put['failed'])} FailedDocuments, first: {put['failed'][0]}")

    sample_n = min(args.status_sample, args.docs)
    sample = sorted({Corpus.doc_id(int(k * args.docs / sample_n)) for k in range(sample_n)}
                    | {Corpus.doc_id(args.docs - 1)})
    deadline = time.perf_counter() + args.index_timeout
    count = None
    sample_ok = False
    statuses: Counter = Counter()
    while True:
        count = indexed_count(client, index_id)
        if count == args.docs:
            st = document_statuses(client, index_id, sample, workers=args.put_workers)
            statuses = Counter(st.get(d, {}).get("DocumentStatus", "MISSING") for d in sample)
            sample_ok = statuses["INDEXED"] + statuses["UPDATED"] == len(sample)
            if sample_ok:
                break
        if time.perf_counter() > deadline:
            break
        time.sleep(0.25)
    t_total = time.perf_counter() - t0
    if not sample_ok:
        raise BenchError(f"not all indexed after {args.index_timeout:.0f} s: IndexedTextDocumentsCount={count}, "
                         f"sample statuses {dict(statuses)}")
    print(f"# all {args.docs} documents indexed: {t_total:.1f} s end to end", file=sys.stderr)
    return {"documents": args.docs, "text_bytes": corpus.bytes_total, "put_seconds": t_put,
            "total_seconds": t_total, "docs_per_s": args.docs / t_total, "put_docs_per_s": args.docs / t_put,
            "sample": len(sample), "sample_statuses": dict(statuses)}


def run_queries(client, corpus: Corpus, index_id: str, args: argparse.Namespace) -> dict:
    """The warm-up, then ``--queries`` sequential queries interleaved over the kinds (the same queries for
    every engine: the generator is seeded the same)."""
    qrng = random.Random(args.seed + 1)
    problems: Counter = Counter()
    examples: dict = {}
    errors: Counter = Counter()
    error_examples: dict = {}

    def run_query(kind: str) -> tuple[float, dict | None]:
        q = make_query(corpus, kind, qrng)
        check = q.pop("_check")
        t = time.perf_counter()
        try:
            resp = client.query(IndexId=index_id, **q)
        except Exception as e:  # noqa: BLE001 - counted and reported
            dt = time.perf_counter() - t
            errors[kind] += 1
            error_examples.setdefault(kind, f"{q}: {error_text(e)}")
            return dt, None
        dt = time.perf_counter() - t
        check_response(corpus, resp, check, problems, examples)
        return dt, resp

    for j in range(args.warmup):
        run_query(KINDS[j % len(KINDS)])
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    zero: Counter = Counter()
    totals: dict[str, list[int]] = {k: [] for k in KINDS}
    for j in range(args.queries):
        kind = KINDS[j % len(KINDS)]
        dt, resp = run_query(kind)
        if resp is None:
            continue
        lat[kind].append(dt)
        if not any(it.get("Type") == "DOCUMENT" for it in resp.get("ResultItems") or []):
            zero[kind] += 1
        if resp.get("TotalNumberOfResults") is not None:
            totals[kind].append(resp["TotalNumberOfResults"])
    return {"lat": lat, "zero": zero, "totals": totals, "errors": errors, "error_examples": error_examples,
            "problems": problems, "examples": examples}


def query_rows(engine: str, q: dict) -> list[list]:
    """The latency table's rows of one engine: one per kind, then all."""
    lat, zero, totals, errors = q["lat"], q["zero"], q["totals"], q["errors"]
    rows = []
    for kind in KINDS:
        xs = [1000 * x for x in lat[kind]]
        tot = totals[kind]
        rows.append([engine, kind, len(xs), f"{percentile(xs, 50):.1f}", f"{percentile(xs, 95):.1f}",
                     f"{percentile(xs, 99):.1f}", f"{(sum(xs) / len(xs)) if xs else float('nan'):.1f}",
                     zero[kind], f"{(sum(tot) / len(tot)) if tot else float('nan'):.0f}", errors[kind]])
    allx = [1000 * x for k in KINDS for x in lat[k]]
    rows.append([engine, "all", len(allx), f"{percentile(allx, 50):.1f}", f"{percentile(allx, 95):.1f}",
                 f"{percentile(allx, 99):.1f}", f"{(sum(allx) / len(allx)) if allx else float('nan'):.1f}",
                 sum(zero.values()), "", sum(errors.values())])
    return rows


def run_engine(engine: str, args: argparse.Namespace, corpus: Corpus) -> dict:
    """Index the corpus on one engine's server (or --endpoint's) and time the queries; its numbers."""
    prefix = opensearch_prefix("lat") if engine == "opensearch" else ""
    server = None if args.endpoint else LocalServer(keep_data=args.keep_data,
                                                    env=engine_env(engine, args.opensearch_url, prefix))
    result: dict = {"engine": engine, "docs": args.docs}
    sampler = LoadSampler()
    try:
        sampler.__enter__()
        if server:
            server.__enter__()
            result["rss_start"] = rss_report(server.pid)
        endpoint = args.endpoint or server.endpoint
        client = make_client(endpoint, pool=args.put_workers * 2 + 4)
        index_id = make_index(client)
        print(f"# {engine}: index {index_id} ACTIVE with dept/tags/year configured; putting {args.docs} "
              f"documents with {args.put_workers} callers", file=sys.stderr)
        result["ingest"] = ingest(client, corpus, index_id, args)
        result["load_ingest"] = sampler.summary()
        if server:
            result["rss_after_put"] = rss_report(server.pid)
        if prefix:
            result["opensearch_after_ingest"] = opensearch_memory(args.opensearch_url)
            result["opensearch_indexes"] = opensearch_indexes(args.opensearch_url, prefix)
        load_queries = LoadSampler()
        with load_queries:
            q = run_queries(client, corpus, index_id, args)
        result["load_queries"] = load_queries.summary()
        result["q"] = q
        result["queries"] = {k: {"n": len(q["lat"][k]), "p50_ms": percentile([1000 * x for x in q["lat"][k]], 50),
                                 "p95_ms": percentile([1000 * x for x in q["lat"][k]], 95),
                                 "p99_ms": percentile([1000 * x for x in q["lat"][k]], 99),
                                 "errors": q["errors"][k], "zero_results": q["zero"][k]} for k in KINDS}
        result["problems"] = dict(q["problems"])
        if prefix:
            result["opensearch_end"] = opensearch_memory(args.opensearch_url)
        if server:
            result["rss_end"] = rss_report(server.pid)
            result["data_dir_bytes"] = dir_size(server.data_dir)
        if args.endpoint and not args.keep_index:
            try:
                call(client.delete_index, Id=index_id)
            except Exception as e:  # noqa: BLE001
                print(f"# could not delete index {index_id}: {error_text(e)}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - report the failing step, with its traceback on stderr
        traceback.print_exc()
        result["failed"] = e if isinstance(e, BenchError) else error_text(e)
    finally:
        sampler.__exit__(None, None, None)
        result["load"] = sampler.summary()
        if server:
            server.__exit__(None, None, None)
        if prefix and not args.keep_data:
            names = delete_opensearch_indexes(args.opensearch_url, prefix)
            print(f"# deleted {len(names)} OpenSearch indexes {prefix}*", file=sys.stderr)
        elif prefix:
            print(f"# OpenSearch indexes {prefix}* kept", file=sys.stderr)
    return result


def print_report(args: argparse.Namespace, corpus: Corpus, results: list[dict]) -> int:
    """The tables (an engine column, a row per engine) and each engine's memory and problems; 1 if any
    query failed or broke a filter."""
    done = [r for r in results if "ingest" in r and "q" in r]
    print()
    text_bytes = done[0]["ingest"]["text_bytes"] if done else 0
    print(f"## Kensaku latency benchmark: {args.docs} documents (half ja, half en, "
          f"{text_bytes / max(1, args.docs):.0f} bytes of text each on average)\n")
    ingest_rows = []
    for r in done:
        ing = r["ingest"]
        ingest_rows.append([r["engine"], f"{ing['docs_per_s']:.0f} ({ing['total_seconds']:.1f} s)",
                            f"{ing['put_docs_per_s']:.0f} ({ing['put_seconds']:.1f} s)",
                            f"{ing['sample']} documents: {ing['sample_statuses']}", r["load_ingest"]])
    print(markdown_table(["engine", "documents/s end to end (first put -> IndexedTextDocumentsCount == N and "
                          "sample INDEXED)", f"documents/s of the BatchPutDocument calls alone ({args.put_workers}"
                          " callers, 10 docs a call)", "BatchGetDocumentStatus sample", "load (1 min) while"
                          " indexing"], ingest_rows))
    print()
    print(f"Query latency over HTTP, one sequential client, after {args.warmup} warm-up queries "
          f"(ms; PageSize 10):\n")
    print(markdown_table(["engine", "kind", "n", "p50", "p95", "p99", "mean", "no results",
                          "mean TotalNumberOfResults", "errors"],
                         [row for r in done for row in query_rows(r["engine"], r["q"])]))
    print()
    rc = 0
    for r in results:
        engine = r["engine"]
        if "failed" in r:
            rc = 1
            print(f"**{engine}: benchmark failed**: {r['failed']}")
        if "load_queries" in r:
            print(f"{engine}: load average (1 min) while querying {r['load_queries']}; over the whole run {r['load']}")
        rss = r.get("rss_end")
        if rss:
            start = r.get("rss_start", {})
            after_put = r.get("rss_after_put", {})
            print(f"{engine}: server peak RSS (VmHWM, pid {rss['pid']}): {mib(rss['VmHWM_kB'])}; current RSS "
                  f"{mib(rss['VmRSS_kB'])}; at start {mib(start.get('VmRSS_kB'))}, after the puts "
                  f"{mib(after_put.get('VmRSS_kB'))}"
                  + (f"; {rss['children']} child processes, their VmHWM sum {mib(rss['children_VmHWM_kB'])}"
                     if rss["children"] else "")
                  + f". Data directory: {r['data_dir_bytes'] / 2**20:.0f} MiB.")
        elif args.endpoint:
            print(f"{engine}: server peak RSS: n/a (--endpoint)")
        if "opensearch_end" in r:
            sizes = ", ".join(f"{row['index']} {row['docs.count']} docs {row['store.size']} MiB "
                              f"({row['pri']} shard, {row['rep']} replica)" for row in r["opensearch_indexes"])
            print(f"{engine}: after indexing: {r['opensearch_after_ingest']}; after the queries: "
                  f"{r['opensearch_end']}. Indexes: {sizes}.")
        q = r.get("q")
        if q and q["problems"]:
            rc = 1
            print(f"\n**{engine}: result problems found:**")
            for k, v in q["problems"].items():
                print(f"- {k}: {v} (e.g. {q['examples'].get(k)})")
        if q and q["errors"]:
            rc = 1
            print(f"\n**{engine}: query errors:**")
            for k, v in q["errors"].items():
                print(f"- {k}: {v} (e.g. {q['error_examples'].get(k)})")
    print(f"Benchmark script peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", help="Kendra endpoint URL of a running server (default: start one here)")
    ap.add_argument("--docs", type=int, default=100_000, help="number of documents (100000)")
    ap.add_argument("--queries", type=int, default=2000, help="measured queries in total, over all kinds (2000)")
    ap.add_argument("--warmup", type=int, default=50, help="warm-up queries, not measured (50)")
    ap.add_argument("--put-workers", type=int, default=4, help="concurrent BatchPutDocument callers (4)")
    ap.add_argument("--index-timeout", type=float, default=3600.0,
                    help="seconds to wait after the last put for everything to be indexed (3600)")
    ap.add_argument("--status-sample", type=int, default=1000, help="documents checked with BatchGetDocumentStatus")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--engine", default="embedded",
                    help=f"comma-separated KENSAKU_ENGINE values, a server each in turn ({', '.join(ENGINES)};"
                         " %(default)s); with --endpoint: the server's, as a label")
    ap.add_argument("--opensearch-url", default=DEFAULT_OPENSEARCH_URL,
                    help="the cluster of the opensearch engine's server (%(default)s)")
    ap.add_argument("--keep-index", action="store_true", help="with --endpoint: do not delete the index")
    ap.add_argument("--keep-data", action="store_true",
                    help="without --endpoint: keep the server's data dir (and its OpenSearch indexes)")
    ap.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = ap.parse_args(argv)
    try:
        engines = parse_engines(args.engine)
    except ValueError as e:
        ap.error(str(e))
    if args.endpoint and len(engines) > 1:
        ap.error("with --endpoint the server's KENSAKU_ENGINE decides: give one --engine as its label")

    corpus = Corpus(args.docs, args.seed)
    print(f"# vocabularies: ja {len(corpus.ja_nouns)} nouns + {len(corpus.ja_verbs)} verbs; "
          f"en {len(corpus.en_words)} words from {corpus.en_source}", file=sys.stderr)
    results = [run_engine(engine, args, corpus) for engine in engines]
    rc = print_report(args, corpus, results)
    if COUNTERS.values:
        print(f"\nClient-side retries: {COUNTERS.values}")
    if args.json:
        out = [{k: v for k, v in r.items() if k != "q"} for r in results]
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return rc


if __name__ == "__main__":
    sys.exit(main())
