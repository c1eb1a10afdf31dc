"""CSS and Content-Security-Policy of the preview page (constants only)."""

from __future__ import annotations

__all__ = ["CSP", "CSS"]

# No scripts at all; styles inline only; images from wherever the definitions point.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:; "
    "frame-src 'none'; base-uri 'none'; form-action 'none'"
)

CSS = """
:root{color-scheme:light dark;--bg:#f3f4f7;--fg:#1c2230;--muted:#5d6676;--card:#fff;
--line:#d8dce4;--accent:#2456c9;--warn-bg:#fff3d1;--warn-fg:#5c4100;--warn-line:#e2b007;
--good:#1d7a3e;--change:#9a5b00;--bad:#b42318;--info:#2456c9;--quiet:#5d6676;--bubble:#e6e8ec;
--hero:#e9ecf2}
@media (prefers-color-scheme:dark){:root{--bg:#14171d;--fg:#e6e9ef;--muted:#9aa3b2;
--card:#1e232c;--line:#343b48;--accent:#7ea6ff;--warn-bg:#3a2f0f;--warn-fg:#ffe3a1;
--warn-line:#a37c00;--good:#5fcf8a;--change:#f0b45a;--bad:#ff8a80;--info:#7ea6ff;
--quiet:#9aa3b2;--bubble:#2c323d;--hero:#262c37}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
a{color:var(--accent)}
.top{padding:20px 32px 12px;border-bottom:1px solid var(--line);background:var(--card)}
.top h1{margin:0 0 4px;font-size:22px}.top p{margin:0;color:var(--muted)}
.layout{display:grid;grid-template-columns:260px minmax(0,1fr);gap:24px;max-width:1280px;
margin:0 auto;padding:20px 24px}
nav ul{list-style:none;margin:0;padding:0;position:sticky;top:12px}
nav li{margin:0 0 6px;font-size:13px;display:flex;flex-wrap:wrap;gap:4px;align-items:center}
nav a{text-decoration:none;min-width:0;overflow-wrap:anywhere}
main{min-width:0}
.item{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 20px;
margin:0 0 20px}
.item>header{display:flex;align-items:flex-start;gap:12px;justify-content:space-between}
.item h2{margin:0;font-size:18px;font-weight:600;min-width:0;overflow-wrap:anywhere}
.item>header .badge{flex:none;margin-top:2px}.item h2 code{font-size:15px;color:var(--muted);
margin-right:8px}
.meta{display:flex;flex-wrap:wrap;gap:4px 20px;margin:8px 0 4px;font-size:13px}
.meta div{display:flex;gap:6px;min-width:0}.meta dt{color:var(--muted);flex:none}
.meta dd{margin:0;min-width:0;overflow-wrap:anywhere}
.message{border-top:1px solid var(--line);margin-top:12px;padding-top:10px}
.messages{display:flex;flex-wrap:wrap;gap:0 28px}
.messages>.message{max-width:100%;border-top:0;margin-top:8px;padding-top:4px}
.message h3{margin:0 0 10px;font-size:15px;font-weight:600;overflow-wrap:anywhere}
.message h4{margin:0 0 8px;font-size:13px;color:var(--muted);font-weight:600;
text-transform:uppercase;letter-spacing:.04em}
.compare{display:grid;grid-template-columns:1fr 1fr;gap:20px}
.compare>div{min-width:0}
.cards{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.card{margin:0;background:var(--card);border:1px solid var(--line);border-radius:14px;
padding:12px;box-shadow:0 1px 3px rgba(0,0,0,.08),0 4px 14px rgba(0,0,0,.05);min-width:0}
.card figcaption{display:flex;gap:6px;align-items:center;margin:0 0 8px;font-size:12px}
.lang{font-weight:700;text-transform:uppercase;letter-spacing:.05em}
.channel{color:var(--muted);margin-left:auto}
.chip{display:inline-block;border:1px solid var(--line);border-radius:999px;padding:0 7px;
font-size:11px;color:var(--muted);font-weight:500;vertical-align:middle}
.chip.changed,.chip.added,.chip.removed,.chip.moved{color:var(--change);border-color:var(--change)}
.badge{display:inline-block;border-radius:6px;padding:1px 8px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap}
.badge.good{background:var(--good)}.badge.change{background:var(--change)}
.badge.bad{background:var(--bad)}.badge.info{background:var(--info)}
.badge.quiet{background:var(--quiet)}
@media (prefers-color-scheme:dark){.badge{color:#111}}
.push{width:340px}.email{width:min(100%,520px)}.sms{width:290px}.stub{width:260px}
.falconyte{width:min(100%,520px)}
.push-head{display:flex;gap:10px}
.icon-wrap{position:relative;flex:none;width:44px;height:44px;border-radius:10px;
background:var(--hero);color:var(--muted);display:grid;place-items:center;font-weight:700;
font-size:18px;overflow:hidden}
.icon,.hero{position:relative;overflow:hidden}
.icon{position:absolute;inset:0}
.icon img,.hero img{position:absolute;inset:0;width:100%;height:100%;object-fit:cover}
.icon .img-fallback{display:none}
.icon img::before,.hero img::before{content:attr(data-fallback);position:absolute;inset:0;
display:grid;place-items:center;background:var(--hero);color:var(--muted);font-size:12px}
.icon img::before{font-size:18px;font-weight:700}
.push-text{min-width:0}
.push p{margin:0}.site{font-size:12px;color:var(--muted);overflow-wrap:anywhere}
.title{font-weight:600;overflow-wrap:anywhere}.body{overflow-wrap:anywhere}
.hero{margin-top:10px;height:150px;border-radius:10px;background:var(--hero);
display:grid;place-items:center}
.img-fallback{font-size:12px;color:var(--muted);padding:0 8px;text-align:center;
overflow-wrap:anywhere}
.actions{display:flex;gap:8px;margin-top:10px}
.btn{flex:1;text-align:center;border:1px solid var(--line);border-radius:8px;padding:4px 8px;
font-size:13px;font-weight:600;color:var(--accent)}
.landing{margin-top:8px !important;font-size:12px;color:var(--muted);overflow-wrap:anywhere}
.counts{margin:8px 0 0;font-size:12px;color:var(--muted)}
.counts .over{color:var(--bad);font-weight:700}
.email-head{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:0 0 8px;
font-size:13px}
.email-head dt{color:var(--muted)}.email-head dd{margin:0;overflow-wrap:anywhere}
.ids{margin:0;padding:0;list-style:none}
iframe{display:block;width:100%;height:180px;border:1px solid var(--line);border-radius:8px;
background:#fff}
.phone{background:var(--bg);border-radius:18px;padding:14px 12px;min-height:90px}
.bubble{margin:0;max-width:92%;background:var(--bubble);border-radius:16px 16px 16px 4px;
padding:8px 12px;white-space:pre-wrap;overflow-wrap:anywhere}
.stub{border-style:dashed;box-shadow:none;background:transparent}
.stub-title{margin:0 0 4px;font-weight:600;color:var(--change)}
.muted{color:var(--muted);font-size:13px;margin:6px 0 0}
.warn{margin:8px 0 0;padding:6px 10px;border-left:4px solid var(--warn-line);
background:var(--warn-bg);color:var(--warn-fg);border-radius:6px;font-size:13px;
overflow-wrap:anywhere}
.warn code{font-size:12px;opacity:.8}
.wcount{color:var(--change);font-size:12px;font-weight:600}
.all-warnings{background:var(--warn-bg);color:var(--warn-fg);border:1px solid var(--warn-line);
border-radius:12px;padding:12px 20px;margin:0 0 20px}
.all-warnings h2{margin:0 0 6px;font-size:16px}.all-warnings ul{margin:0;padding-left:18px;
font-size:13px}.all-warnings a{color:inherit}
footer{max-width:1280px;margin:0 auto;padding:0 24px 24px;color:var(--muted);font-size:12px}
@media (max-width:900px){.layout{grid-template-columns:1fr}.compare{grid-template-columns:1fr}}
"""
