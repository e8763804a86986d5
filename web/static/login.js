// The admin token is posted once; the server answers with an HttpOnly session cookie.
const form = document.getElementById("login");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("/admin/session", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: document.getElementById("token").value }),
  });
  if (r.ok) location.reload();
  else document.getElementById("login-error").textContent = "The token is wrong. / トークンが違います。";
});
document.getElementById("token").focus();
