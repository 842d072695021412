// The pages' DOM helpers (static/session.js re-exports them): elements, toasts, the top
// bar's connection badge, and the messages under form fields. Text only ever goes through
// textContent.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** A short notice in the page's #toasts box (at most four at a time). */
export function toast(text, { kind = 'warn', code = '', ms = 5000 } = {}) {
  const box = $('toasts');
  const t = el('div', `toast ${kind}`);
  t.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (code) t.append(el('span', 'code', code));
  t.append(document.createTextNode(text));
  box.append(t);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => t.remove(), ms);
}

/** The ws:/wss: URL of a path on this server. */
export function wsUrl(path) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

/** The top bar's connection badge (#conn-status): `state` colours it (online, connecting…). */
export function setConnStatus(state, text) {
  const s = $('conn-status');
  s.dataset.state = state;
  s.textContent = text;
  s.hidden = false;
}

/**
 * Shows (or with '' hides) the message under one field of `form`: the `.field-error` whose
 * `data-for` is `field`, in the `.field` that holds the `.input`, which is marked invalid
 * and described by the message. False when the form has no such field.
 */
export function setFieldError(form, field, message) {
  const span = form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
  const input = span && span.closest('.field') ? span.closest('.field').querySelector('.input') : null;
  if (!span) return false;
  span.textContent = message || '';
  span.hidden = !message;
  if (span.id === '') span.id = `${form.id}-${field}-error`;
  if (input) {
    input.classList.toggle('invalid', Boolean(message));
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      const ids = new Set((input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean));
      ids.add(span.id);
      input.setAttribute('aria-describedby', [...ids].join(' '));
    } else {
      input.removeAttribute('aria-invalid');
    }
  }
  return true;
}

export function clearFieldErrors(form) {
  for (const span of form.querySelectorAll('.field-error')) setFieldError(form, span.dataset.for, '');
}
