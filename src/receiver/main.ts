/**
 * Receiver app entry (minimal until the receiver issue lands): reads the delivery id from the path
 * and tells the recipient that the app is being built.
 */
const root = document.getElementById('app');
if (root)
  root.textContent =
    'Sealpost receiver: opening secure messages in the browser is coming with the receiver app.';
