// A small Markdown renderer for the playground's messages: fenced code, inline code,
// headings, lists, block quotes, GitHub-style pipe tables, emphasis, links, paragraphs. LaTeX ($...$, $$...$$,
// \(...\), \[...\]) is kept as written, in a monospace span, so that it stays readable
// without a math library. Everything is escaped before any markup is added: the text
// comes from a model and is never trusted as HTML.
"use strict";

const Markdown = (() => {
  const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);

  // Spans that no other inline rule may touch (code, math) are set aside as
  // private-use placeholders and put back at the end.
  function inline(text) {
    const kept = [];
    const keep = (html) => `\uE010${kept.push(html) - 1}\uE011`;
    let s = text
      .replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${escapeHtml(code)}</code>`))
      .replace(/\\\((.+?)\\\)|\$([^$\n]+?)\$/g, (m) => keep(`<span class="math">${escapeHtml(m)}</span>`));
    s = escapeHtml(s)
      .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*\w])\*([^*\s][^*]*?)\*(?!\w)/g, "$1<em>$2</em>")
      .replace(/(^|[^_\w])_([^_\s][^_]*?)_(?!\w)/g, "$1<em>$2</em>")
      .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (m, label, href) => {
        // A link to an annotated span (app.js marks each annotation's text \uE000<n>\uE001
        // before rendering, e.g. a file_path's sandbox:/mnt/data/... link) becomes that
        // marker with the link's label, \uE000<n>\uE002<label>\uE001, for app.js to replace.
        const marker = href.match(/^\uE000(\d+)\uE001$/);
        if (marker) return `\uE000${marker[1]}\uE002${label}\uE001`;
        // Only plain web links are followed; sandbox: paths come as file_path annotations.
        const url = href.replace(/&amp;/g, "&");
        return /^https?:\/\//i.test(url)
          ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${label}</a>`
          : m;
      });
    return s.replace(/\uE010(\d+)\uE011/g, (_, i) => kept[Number(i)]);
  }

  // A table row's cells: the outer pipes dropped, split at each pipe not escaped as \|.
  function cells(line) {
    let s = line.trim();
    if (s.startsWith("|")) s = s.slice(1);
    if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
    const out = [];
    let cell = "";
    for (let i = 0; i < s.length; i++) {
      if (s[i] === "\\" && s[i + 1] === "|") { cell += "|"; i++; }
      else if (s[i] === "|") { out.push(cell.trim()); cell = ""; }
      else cell += s[i];
    }
    out.push(cell.trim());
    return out;
  }
  const DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

  // A GitHub-style table starts at lines[i] when it is a row of cells followed by a
  // delimiter row (---, :--, --:, :-:) of as many cells, both with a pipe; returns null
  // otherwise. Body rows follow until a blank line or a line with no pipe; a row with too
  // few cells gets empty ones, too many are dropped.
  function table(lines, i) {
    const head = lines[i];
    const delimiter = lines[i + 1];
    if (delimiter === undefined || !head.includes("|") || !delimiter.includes("|") || !DELIMITER.test(delimiter)) return null;
    const names = cells(head);
    const aligns = cells(delimiter).map((d) => (d.startsWith(":") && d.endsWith(":") ? "center"
      : d.endsWith(":") ? "right" : d.startsWith(":") ? "left" : ""));
    if (names.length !== aligns.length) return null;
    const cell = (tag, text, k) => `<${tag}${aligns[k] ? ` style="text-align: ${aligns[k]}"` : ""}>${inline(text)}</${tag}>`;
    const rows = [];
    let j = i + 2;
    for (; j < lines.length && lines[j].trim() && lines[j].includes("|"); j++) {
      const row = cells(lines[j]);
      rows.push(`<tr>${names.map((_, k) => cell("td", row[k] || "", k)).join("")}</tr>`);
    }
    const html = `<div class="table-wrap"><table class="md-table"><thead><tr>${names.map((n, k) => cell("th", n, k)).join("")}</tr></thead>`
      + `<tbody>${rows.join("")}</tbody></table></div>`;
    return { html, next: j };
  }

  function render(text) {
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let para = [];
    let list = null; // {tag, items}
    const flushPara = () => {
      if (para.length) out.push(`<p>${para.map(inline).join("<br>")}</p>`);
      para = [];
    };
    const flushList = () => {
      if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`);
      list = null;
    };
    const flush = () => { flushPara(); flushList(); };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = line.match(/^\s*(```+|~~~+)\s*([\w+-]*)/);
      if (fence) {
        flush();
        const body = [];
        i++;
        while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
        const lang = fence[2] ? ` data-lang="${escapeHtml(fence[2])}"` : "";
        out.push(`<pre class="code"${lang}><code>${escapeHtml(body.join("\n"))}</code></pre>`);
        continue;
      }
      const display = line.trim().match(/^(\$\$|\\\[)/);
      if (display) {
        flush();
        const close = display[1] === "$$" ? "$$" : "\\]";
        const body = [line];
        const rest = line.trim().slice(2);
        if (!rest.includes(close)) {
          while (i + 1 < lines.length) {
            body.push(lines[++i]);
            if (lines[i].includes(close)) break;
          }
        }
        out.push(`<div class="math">${escapeHtml(body.join("\n"))}</div>`);
        continue;
      }
      if (!line.trim()) { flush(); continue; }
      const tab = table(lines, i);
      if (tab) {
        flush();
        out.push(tab.html);
        i = tab.next - 1;
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        flush();
        const level = Math.min(heading[1].length + 2, 6); // h3..h6 inside a message
        out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
        continue;
      }
      const quote = line.match(/^>\s?(.*)$/);
      if (quote) {
        flush();
        out.push(`<blockquote>${inline(quote[1])}</blockquote>`);
        continue;
      }
      const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
      if (item) {
        flushPara();
        const tag = /\d/.test(item[1]) ? "ol" : "ul";
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag, items: [] };
        list.items.push(item[2]);
        continue;
      }
      if (list && /^\s{2,}\S/.test(line)) { // a list item's continuation
        list.items[list.items.length - 1] += " " + line.trim();
        continue;
      }
      flushList();
      para.push(line);
    }
    flush();
    return out.join("\n");
  }

  return { render, escapeHtml };
})();
