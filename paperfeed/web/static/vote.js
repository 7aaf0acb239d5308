// Upvote without a page reload: post the same form with fetch and update the count in place.
// Without JavaScript the form posts normally and the page reloads.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("vote-form")) return;
    if (!window.fetch || !window.URLSearchParams) return;
    event.preventDefault();
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    var body = new URLSearchParams(new FormData(form));
    // form.action would be the <input name="action">, so read the attribute.
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
        return null;
      }
      if (!response.ok) { form.submit(); return null; }
      return response.json();
    }).then(function (data) {
      if (!data) return;
      var count = form.querySelector(".votes-count");
      if (count) count.textContent = String(data.upvotes);
      form.querySelector("input[name=action]").value = data.voted ? "remove" : "up";
      if (button) {
        button.setAttribute("aria-pressed", data.voted ? "true" : "false");
        button.title = data.voted ? "Remove upvote" : "Upvote";
      }
    }).catch(function () {
      form.submit();
    }).finally(function () {
      if (button) button.disabled = false;
    });
  });
})();
