// The time-out warning (GOV.UK pattern): a signed-in page warns before the idle limit ends
// the session, and "Stay signed in" counts as activity. Without this script the session
// still ends after the idle limit; the sign-in page then says why. Tabs of the same browser
// tell each other of every new deadline (a page opened or "Stay signed in" in one tab keeps
// the others from warning or signing out while the session is still alive).

function spoken(seconds) {
  if (seconds >= 60) {
    const minutes = Math.ceil(seconds / 60);
    return minutes === 1 ? "1 minute" : `${minutes} minutes`;
  }
  return seconds === 1 ? "1 second" : `${seconds} seconds`;
}

export function initTimeoutWarning(body = document.body) {
  const dialog = document.getElementById("hub-timeout");
  const limit = Number(body.dataset.hubIdleMinutes) * 60;
  if (!dialog || !limit || typeof dialog.showModal !== "function") return;
  const warning = Math.min(Number(body.dataset.hubIdleWarning) || 120, limit);
  const time = dialog.querySelector(".hub-timeout__time");
  const live = dialog.querySelector(".hub-timeout__live");
  const stay = dialog.querySelector(".hub-timeout__stay");
  const csrf = dialog.querySelector("input[name='csrf_token']").value;
  let deadline = Date.now() + Number(body.dataset.hubIdleLeft) * 1000;
  let timer = null;
  let ticker = null;
  let returnTo = null;
  const tabs = typeof BroadcastChannel === "function" ? new BroadcastChannel("hub-session") : null;

  function left() {
    return Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  }

  function signedOut() {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`${dialog.dataset.signInUrl}?next=${encodeURIComponent(next)}`);
  }

  function tick() {
    const seconds = left();
    if (seconds <= 0) {
      clearInterval(ticker);
      // A moment past the server's limit, so the sign-in page finds the session ended.
      setTimeout(signedOut, 1000);
      return;
    }
    time.textContent = spoken(seconds);
    // Announced sparingly: each whole minute, then at 30 and 10 seconds.
    if ((seconds % 60 === 0 && seconds < warning) || seconds === 30 || seconds === 10) {
      live.textContent = `You will be signed out in ${spoken(seconds)}.`;
    }
  }

  function warn() {
    returnTo = document.activeElement;
    time.textContent = spoken(left());
    live.textContent = "";
    dialog.showModal();
    stay.focus();
    clearInterval(ticker);
    ticker = setInterval(tick, 1000);
  }

  function schedule() {
    clearTimeout(timer);
    clearInterval(ticker);
    timer = setTimeout(warn, Math.max(0, deadline - Date.now() - warning * 1000));
  }

  function close() {
    clearInterval(ticker);
    if (!dialog.open) return;
    dialog.close();
    if (returnTo && typeof returnTo.focus === "function") returnTo.focus();
  }

  async function staySignedIn() {
    close();
    try {
      const response = await fetch(dialog.dataset.stayUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/problem+json, application/json;q=0.9", "X-CSRFToken": csrf },
      });
      if (response.status === 401) { signedOut(); return; }
      if (response.ok) {
        const data = await response.json();
        deadline = Date.now() + data.seconds_left * 1000;
        tell();
      }
    } catch (error) {
      // Offline: the session was not extended, so the warning comes straight back.
    }
    schedule();
  }

  function tell() {
    if (tabs) tabs.postMessage({ deadline });
  }

  if (tabs) {
    tabs.addEventListener("message", (event) => {
      const later = Number(event.data && event.data.deadline);
      if (later > deadline) {
        deadline = later;
        close();
        schedule();
      }
    });
  }

  stay.addEventListener("click", staySignedIn);
  // Escape closes a modal dialog; here it means "Stay signed in", as in the GOV.UK pattern.
  dialog.addEventListener("cancel", (event) => { event.preventDefault(); staySignedIn(); });
  schedule();
  tell();
}
