// The dashboard's only script besides htmx. Pages work without it: it only makes htmx show
// error pages of buttons and mark the incident list as stale when a refresh fails.
"use strict";

// htmx does not swap 4xx/5xx answers; a refused or failed button should still show its page.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.boosted && event.detail.xhr.status >= 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// A failed refresh leaves the rows as they were: say so, rather than show old data as current.
function markStale(event) {
  var rows = event.detail.elt;
  if (rows && rows.id === "incident-rows") {
    rows.classList.add("stale");
    rows.setAttribute("title", "Refresh failed; showing the list as of " + rows.dataset.refreshed);
  }
}
document.addEventListener("htmx:responseError", markStale);
document.addEventListener("htmx:sendError", markStale);
