// Follows an order's status with Server-Sent Events; without JavaScript the page refreshes itself.
(() => {
  const order = document.getElementById("order");
  if (!order || order.dataset.final === "true" || !("EventSource" in window)) return;
  const label = document.getElementById("status-label");
  const steps = document.querySelectorAll("#steps li");
  const reason = document.getElementById("reason");
  const status = label.parentElement;
  const source = new EventSource(order.dataset.events);
  source.addEventListener("status", (message) => {
    const update = JSON.parse(message.data);
    label.textContent = update.label;
    steps.forEach((step) => {
      const index = Number(step.dataset.step);
      step.classList.toggle("done", index <= update.step);
      step.classList.toggle("current", index === update.step && !update.final);
    });
    status.className = "order-status " + (update.cancelled ? "cancelled" : update.final ? "done" : "pending");
    if (update.cancelled) {
      document.getElementById("steps").classList.add("cancelled");
      reason.textContent = update.reason;
      reason.hidden = false;
    }
    if (update.final) {
      source.close();
      window.location.reload();
    }
  });
  source.addEventListener("unavailable", () => source.close());
})();
