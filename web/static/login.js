// The admin token is posted once; the server answers with an HttpOnly session cookie.
const form = document.getElementById("login");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("/admin/session", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: document.getElementById("token").value }),
  });
  const error = document.getElementById("login-error");
  if (r.ok) location.reload();
  else if (r.status === 429) {
    const wait = r.headers.get("Retry-After") || "60";
    error.textContent = `Too many wrong tokens: try again in ${wait} s. / 試行が多すぎます。${wait} 秒後に再試行してください。`;
  } else error.textContent = "The token is wrong. / トークンが違います。";
});
document.getElementById("token").focus();
