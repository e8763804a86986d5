// UI strings in Japanese and English. The UI language: ?ui=ja|en, else the last choice, else the browser's.

const MESSAGES = {
  ja: {
    title: "検索", placeholder: "社内の文書を検索（日本語・英語）", search: "検索",
    langAll: "すべての言語", langJa: "日本語", langEn: "英語",
    detected: { ja: "日本語のクエリ", en: "英語のクエリ" },
    results: (n, from, to) => `約 ${n.toLocaleString()} 件中 ${from}–${to} 件`,
    noResults: (q) => `「${q}」に一致する文書は見つかりませんでした。`,
    help: ["言葉の綴りを確かめてください。", "より一般的な言葉や、少ない言葉で試してください。",
      "日本語と英語の両方を検索してください。", "絞り込みを外してください。"],
    searchBoth: "両方の言語で検索", clearFilters: "絞り込みをすべて解除",
    nothingRelevant: (q) => `「${q}」に関連する文書は見つかりませんでした。`,
    weakHelp: ["別の言葉や、より一般的な言葉で試してください。", "言葉の綴りを確かめてください。",
      "言葉を減らしてください。"], weakBoth: "日本語と英語の両方を検索してください。",
    trySuggestion: (q) => `「${q}」で検索`,
    showWeak: (n) => `関連の低い結果 ${n.toLocaleString()} 件を表示`,
    didYouMean: "もしかして:", sort: "並べ替え", relevance: "関連度順", newest: "新しい順",
    filters: "絞り込み", date: "更新日", anyTime: "期間指定なし", pastWeek: "1 週間以内", pastMonth: "1 か月以内",
    pastYear: "1 年以内", facet: { _data_source_id: "ソース", _category: "カテゴリ", _file_type: "ファイル形式",
      _language_code: "言語", _authors: "作成者" },
    answer: "回答", helpful: "役に立った", notHelpful: "役に立たなかった", thanks: "ご意見ありがとうございます",
    prev: "前へ", next: "次へ", page: (n) => `${n} ページ`, pages: "ページ",
    error: "検索できませんでした", noIndex: "検索できるインデックスがありません。", loading: "検索中…",
    suggestions: "検索候補", signedInAs: (u) => `${u} としてログイン中`, uiSwitch: "English",
    dashboard: "ダッシュボード", admin: "管理", home: "検索",
    welcome: {
      noIndex: "まだ検索できる文書がありません", noDocuments: "このインデックスにはまだ文書がありません",
      steps: ["管理ページを開きます。", "インデックスを作成します（名前を付けるだけです）。",
        "文書のフォルダーをデータソースとして追加して同期するか、ファイルをドラッグ＆ドロップでアップロードします。",
        "このページに戻って検索します。"],
      open: "管理ページを開く",
      demo: "自分の文書がまだなければ、同梱のサンプル（日本語と英語の約 400 文書）で試せます：管理ページの「サンプル文書を読み込む」、またはターミナルで make demo（kensaku demo）。",
      signIn: "ログインには、kensaku serve を初めて起動したときに表示されたリンクを開くか、管理トークンを入力します（リンクを見失ったら kensaku admin-token --rotate で新しいリンクを表示できます）。",
    },
  },
  en: {
    title: "Search", placeholder: "Search company documents (Japanese and English)", search: "Search",
    langAll: "All languages", langJa: "Japanese", langEn: "English",
    detected: { ja: "Japanese query", en: "English query" },
    results: (n, from, to) => `${from}–${to} of about ${n.toLocaleString()} results`,
    noResults: (q) => `No documents match “${q}”.`,
    help: ["Check the spelling.", "Try more general or fewer words.", "Search both Japanese and English.",
      "Remove filters."],
    searchBoth: "Search both languages", clearFilters: "Clear all filters",
    nothingRelevant: (q) => `Nothing relevant was found for “${q}”.`,
    weakHelp: ["Try other or more general words.", "Check the spelling.", "Use fewer words."],
    weakBoth: "Search both Japanese and English.",
    trySuggestion: (q) => `Search for “${q}”`,
    showWeak: (n) => `Show ${n.toLocaleString()} weak match${n === 1 ? "" : "es"}`,
    didYouMean: "Did you mean:", sort: "Sort", relevance: "Relevance", newest: "Newest first",
    filters: "Filters", date: "Updated", anyTime: "Any time", pastWeek: "Past week", pastMonth: "Past month",
    pastYear: "Past year", facet: { _data_source_id: "Source", _category: "Category", _file_type: "File type",
      _language_code: "Language", _authors: "Author" },
    answer: "Answer", helpful: "Helpful", notHelpful: "Not helpful", thanks: "Thanks for the feedback",
    prev: "Previous", next: "Next", page: (n) => `Page ${n}`, pages: "Pages",
    error: "The search failed", noIndex: "There is no index to search.", loading: "Searching…",
    suggestions: "Suggestions", signedInAs: (u) => `Signed in as ${u}`, uiSwitch: "日本語",
    dashboard: "Dashboard", admin: "Admin", home: "Search",
    welcome: {
      noIndex: "There is nothing to search yet", noDocuments: "This index has no documents yet",
      steps: ["Open the admin page.", "Create an index (a name is all it needs).",
        "Add a folder of documents as a data source and sync it, or drop files on the page to upload them.",
        "Come back here and search."],
      open: "Open the admin page",
      demo: "No documents of your own yet? Try the bundled sample (about 400 Japanese and English documents): “Load the sample documents” on the admin page, or make demo (kensaku demo) in a terminal.",
      signIn: "To sign in, open the link kensaku serve printed when it first started, or enter the admin token (lost the link? kensaku admin-token --rotate prints a new one).",
    },
  },
};

export function uiLanguage() {
  const asked = new URLSearchParams(location.search).get("ui");
  if (asked === "ja" || asked === "en") {
    try { localStorage.setItem("kensaku.ui", asked); } catch { /* private mode */ }
    return asked;
  }
  let saved = null;
  try { saved = localStorage.getItem("kensaku.ui"); } catch { /* private mode */ }
  if (saved === "ja" || saved === "en") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("ja") ? "ja" : "en";
}

export function messages(lang) {
  return MESSAGES[lang] || MESSAGES.en;
}

// The language a query is written in: Japanese if it has kana or kanji, else English.
export function detectLanguage(text) {
  return /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u.test(text || "") ? "ja" : "en";
}
