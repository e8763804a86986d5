// "Load the sample documents": the bundled sample of `kensaku demo`, loaded by the server itself
// (KensakuLoadDemo, a Kensaku extension operation), with its progress polled until it ends.
import { kendra, el } from "./kendra.js";
import { t, ui } from "./admin-text.js";
import { $, current, hooks, say } from "./admin-common.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function show(r) {
  const bar = $("demo-progress");
  const status = $("demo-status");
  $("demo").dataset.status = r.Status;
  bar.hidden = r.Status !== "LOADING";
  if (r.Total) bar.value = (r.AlreadyIndexed + r.Indexed) / r.Total;
  if (r.Status === "LOADING") status.textContent = t.demoProgress(r);
  else if (r.Status === "FAILED") status.textContent = t.demoFailed(r.Message || "");
  else if (r.Status === "SUCCEEDED") {
    const q = ui === "ja" ? "算出プロパティ" : "computed properties";
    status.replaceChildren(t.demoDone(r), " ",
      el("a", { href: `/?ui=${ui}&q=${encodeURIComponent(q)}`, id: "demo-search", text: t.demoSearch }));
  } else status.textContent = "";
}

// Follow a load until it ends; the index list follows too (the sample's index appears, its count grows).
async function follow(r) {
  $("load-demo").disabled = true;
  while (r.Status === "LOADING") {
    show(r);
    await sleep(700);
    r = await kendra("KensakuLoadDemo", { StatusOnly: true });
    hooks.indexesChanged();
  }
  show(r);
  $("load-demo").disabled = false;
  if (r.Status === "SUCCEEDED") say(t.demoDone(r));
  await hooks.indexesChanged();
  // the sample's index may be the first one: the index panels below then open on it
  if ($("index").value !== current.indexId) $("index").dispatchEvent(new Event("change"));
}

export async function wireDemo() {
  let r;
  try {
    r = await kendra("KensakuLoadDemo", { StatusOnly: true });
  } catch {
    return; // a server without the operation: no button
  }
  $("demo-help").textContent = t.demoHelp;
  $("load-demo").textContent = t.loadDemo;
  $("demo").hidden = false;
  $("load-demo").addEventListener("click", async () => {
    try {
      await follow(await kendra("KensakuLoadDemo", {}));
    } catch (e) {
      show({ Status: "FAILED", Message: e.message });
      $("load-demo").disabled = false;
    }
  });
  if (r.Status === "LOADING") follow(r); // a load started earlier (another tab) is still running
}
