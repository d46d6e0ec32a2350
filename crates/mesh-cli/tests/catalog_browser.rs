//! `mesh catalog` end to end in a real browser: the site generated for `mesh-repo-example` is
//! opened from the file system by headless Chromium (Debian's `chromium`, installed by
//! scripts/setup.sh), which runs checks written in JavaScript against the live pages and reports
//! through the DOM (`--dump-dom`). Each page under test gets an instrumented copy next to it
//! (`<page>.t.html`): a hook loaded before anything else records console errors, uncaught
//! exceptions and failed loads; a check script loaded last drives the page (types a search,
//! clicks a lineage node) and writes its verdict into `<pre id="test-result">`.
//!
//! Screenshots of the real (uninstrumented) pages are kept as artifacts in
//! `$CARGO_TARGET_DIR/tmp/catalog-browser/`.
//!
//! Without Chromium the test fails: scripts/test.sh installs it through scripts/setup.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MESH_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Runs headless Chromium on `url` with these extra arguments; returns (stdout, stderr).
fn browse(chrome: &Path, profile: &Path, args: &[String], url: &str) -> (String, String) {
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--allow-file-access-from-files",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Installed first in every instrumented page: records what would show as an error in the
/// browser's console.
const HOOKS: &str = r#"
window.__errors = [];
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
  window.addEventListener('error', function (e) {
    if (e.target && e.target !== window && (e.target.src || e.target.href)) {
      window.__errors.push('failed to load ' + (e.target.src || e.target.href));
    } else {
      window.__errors.push('uncaught: ' + e.message + ' at ' + e.filename + ':' + e.lineno);
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    window.__errors.push('unhandled rejection: ' + e.reason);
  });
})();
window.__checks = [];
window.check = function (name, ok, detail) {
  window.__checks.push({ name: name, ok: !!ok, detail: ok ? '' : String(detail) });
};
window.report = function () {
  var pre = document.createElement('pre');
  pre.id = 'test-result';
  pre.textContent = JSON.stringify({ checks: window.__checks, errors: window.__errors });
  document.body.appendChild(pre);
};
window.whenReady = function (f) {
  document.addEventListener('DOMContentLoaded', function () {
    setTimeout(function () {
      try { f(); } catch (e) { window.__errors.push('check threw: ' + e + ' ' + e.stack); }
      window.report();
    }, 0);
  });
};
"#;

const CHECK_INDEX: &str = r#"
whenReady(function () {
  function ids() {
    return Array.prototype.map.call(document.querySelectorAll('#results .result'), function (li) { return li.getAttribute('data-id'); });
  }
  var q = document.getElementById('q');
  check('the page is initialised', document.documentElement.getAttribute('data-ready') === '1', 'no data-ready');
  check('the query comes from the address', q.value === 'total_amount', q.value);
  check('a schema field name finds sales.orders', ids().indexOf('sales.orders') >= 0, ids().join(','));
  var hit = document.querySelector('#results .result[data-id="sales.orders"] .field-hit');
  check('the matching field is named', hit && hit.textContent.indexOf('total_amount') >= 0, hit && hit.textContent);
  // Typing: a nested field's name (an order line's sku), then a field doc word.
  q.value = 'unit_price';
  q.dispatchEvent(new Event('input'));
  check('typing a nested field name finds sales.orders', ids().indexOf('sales.orders') >= 0, ids().join(','));
  q.value = 'no-such-thing-anywhere';
  q.dispatchEvent(new Event('input'));
  check('a query matching nothing shows nothing', ids().length === 0, ids().join(','));
  check('and says so', document.getElementById('count').textContent.indexOf('0 of') === 0, document.getElementById('count').textContent);
  q.value = '';
  q.dispatchEvent(new Event('input'));
  var all = ids().length;
  check('an empty query lists every product', all === window.MESH_INDEX.length, all);
  var status = document.getElementById('f-status');
  status.value = 'deprecated';
  status.dispatchEvent(new Event('change'));
  check('the status filter keeps deprecated products only', ids().length >= 1 && ids().every(function (id) {
    return document.querySelector('.result[data-id="' + id + '"] .status-deprecated');
  }) && ids().indexOf('sales.legacy-orders') >= 0, ids().join(','));
  status.value = '';
  var domain = document.getElementById('f-domain');
  domain.value = 'finance';
  domain.dispatchEvent(new Event('change'));
  check('the domain filter keeps that domain', ids().length > 0 && ids().every(function (id) { return id.indexOf('finance.') === 0; }), ids().join(','));
  var link = document.querySelector('#results .result a.result-id');
  check('every result links to its page', link && /products\/finance\.[a-z-]+\.html$/.test(link.getAttribute('href')), link && link.getAttribute('href'));
});
"#;

const CHECK_ORDERS: &str = r#"
whenReady(function () {
  var consumers = document.querySelectorAll('#consumer-table tr.consumer');
  check('the consumers are listed', consumers.length >= 3, consumers.length);
  var text = document.getElementById('consumers').textContent;
  check('with their purpose', text.indexOf('Issue exactly one invoice per order') >= 0, text);
  check('and their group', text.indexOf('finance.billing-service') >= 0, text);
  var links = Array.prototype.map.call(document.querySelectorAll('#owners a.contact'), function (a) { return a.getAttribute('href'); });
  check('owners\' contacts are links', links.indexOf('https://oncall.acme.example/schedules/sales-orders') >= 0 && links.indexOf('https://chat.acme.example/channels/sales-orders') >= 0, links.join(','));
  check('no deprecation banner on an active product', !document.getElementById('deprecation'), 'banner shown');
  var fields = Array.prototype.map.call(document.querySelectorAll('tr.field'), function (r) { return r.getAttribute('data-path'); });
  check('the value schema\'s fields are shown, nested ones too', fields.indexOf('total_amount') >= 0 && fields.indexOf('lines.sku') >= 0, fields.join(','));
  var box = document.querySelector('#lineage .lineage');
  var nodes = Array.prototype.map.call(box.querySelectorAll('.node'), function (n) { return n.getAttribute('data-id'); });
  check('the lineage graph is drawn', box.querySelector('svg') && nodes.length >= 3, nodes.join(','));
  var focus = box.querySelector('.node.focus');
  check('centred on the product', focus && focus.getAttribute('data-id') === 'sales.orders', focus && focus.getAttribute('data-id'));
  check('with its upstream', nodes.indexOf('sales.checkout-events') >= 0, nodes.join(','));
  check('and its downstream', nodes.indexOf('finance.invoices') >= 0, nodes.join(','));
  check('edges are drawn', box.querySelectorAll('path.edge').length >= 2, box.querySelectorAll('path.edge').length);
  var target = box.querySelector('.node[data-id="sales.checkout-events"]');
  target.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  focus = box.querySelector('.node.focus');
  check('clicking a node centres the graph on it', box.getAttribute('data-focus') === 'sales.checkout-events' && focus && focus.getAttribute('data-id') === 'sales.checkout-events', box.getAttribute('data-focus'));
  var open = document.querySelector('#lineage .lineage-open');
  check('and links to its page', open && open.getAttribute('href') === '../products/sales.checkout-events.html', open && open.getAttribute('href'));
  var snippet = document.getElementById('client-config').textContent;
  check('a client config snippet', snippet.indexOf('bootstrap.servers=') >= 0 && snippet.indexOf('group.id=') >= 0, snippet);
});
"#;

const CHECK_LEGACY: &str = r#"
whenReady(function () {
  var banner = document.getElementById('deprecation');
  check('the deprecation banner shows', banner && banner.offsetHeight > 0, 'no visible banner');
  check('with the sunset date', banner && banner.textContent.indexOf('2027-03-01') >= 0, banner && banner.textContent);
  var repl = banner && banner.querySelector('a');
  check('and a link to the replacement', repl && repl.getAttribute('href') === '../products/sales.orders.html', repl && repl.outerHTML);
  var text = document.getElementById('consumers').textContent;
  check('its remaining consumer is listed', text.indexOf('finance.reconciliation-job') >= 0, text);
});
"#;

const CHECK_LINEAGE: &str = r#"
whenReady(function () {
  var box = document.querySelector('.lineage');
  check('the whole-mesh view centres on the product in the address', box.getAttribute('data-focus') === 'customers.profiles', box.getAttribute('data-focus'));
  var other = Array.prototype.filter.call(box.querySelectorAll('.node'), function (n) { return !n.classList.contains('focus'); })[0];
  var id = other && other.getAttribute('data-id');
  other.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  var focus = box.querySelector('.node.focus');
  check('clicking a node refocuses the view', focus && focus.getAttribute('data-id') === id, id);
  check('and the address follows', decodeURIComponent(location.hash) === '#' + id, location.hash);
  var depth = document.querySelector('.lineage-depth');
  depth.value = '1';
  depth.dispatchEvent(new Event('change'));
  check('fewer hops draw no more nodes', box.querySelectorAll('.node').length >= 1, box.querySelectorAll('.node').length);
});
"#;

const CHECK_DOMAIN: &str = r#"
whenReady(function () {
  var links = Array.prototype.map.call(document.querySelectorAll('a.contact'), function (a) { return a.getAttribute('href'); });
  check('the domain\'s contacts are links', links.indexOf('mailto:sales-data@acme.example') >= 0, links.join(','));
  var products = Array.prototype.map.call(document.querySelectorAll('a[href^="../products/"]'), function (a) { return a.textContent; });
  check('its products are one click away', products.indexOf('sales.orders') >= 0 && products.indexOf('sales.legacy-orders') >= 0, products.join(','));
  check('what it consumes, and why', document.body.textContent.indexOf('Turn every completed checkout into an order.') >= 0, 'purpose missing');
});
"#;

/// Writes an instrumented copy of `page` (relative to `site`) that loads the hooks first and
/// `check` last; returns its path.
fn instrument(site: &Path, page: &str, check: &str, name: &str) -> PathBuf {
    let depth = page.matches('/').count();
    let up = "../".repeat(depth);
    let html = std::fs::read_to_string(site.join(page)).expect("page exists");
    std::fs::create_dir_all(site.join("test")).unwrap();
    std::fs::write(site.join("test/hooks.js"), HOOKS).unwrap();
    std::fs::write(site.join(format!("test/{name}.js")), check).unwrap();
    let html = html
        .replacen(
            "<head>",
            &format!("<head>\n<script src=\"{up}test/hooks.js\"></script>"),
            1,
        )
        .replacen(
            "</body>",
            &format!("<script src=\"{up}test/{name}.js\"></script>\n</body>"),
            1,
        );
    let copy = site.join(page.replace(".html", ".t.html"));
    std::fs::write(&copy, html).unwrap();
    copy
}

#[derive(serde::Deserialize, Debug)]
struct Verdict {
    checks: Vec<Check>,
    errors: Vec<String>,
}

#[derive(serde::Deserialize, Debug)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

fn verdict(dom: &str) -> Option<Verdict> {
    let start = dom.find("<pre id=\"test-result\">")? + "<pre id=\"test-result\">".len();
    let end = start + dom[start..].find("</pre>")?;
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).ok()
}

#[test]
fn the_catalog_works_in_a_real_browser() {
    let chrome = chromium()
        .expect("chromium is missing: scripts/setup.sh installs it (apt-get install chromium)");
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example");
    let out = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(["catalog", "--repo"])
        .arg(&repo)
        .arg("--out")
        .arg(&site)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("index.html"));

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-browser");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let profile = tmp.path().join("profile");

    let cases = [
        ("index.html", "#q=total_amount", CHECK_INDEX, "index"),
        ("products/sales.orders.html", "", CHECK_ORDERS, "orders"),
        (
            "products/sales.legacy-orders.html",
            "",
            CHECK_LEGACY,
            "legacy",
        ),
        (
            "lineage.html",
            "#customers.profiles",
            CHECK_LINEAGE,
            "lineage",
        ),
        ("domains/sales.html", "", CHECK_DOMAIN, "domain"),
    ];
    let mut failures = Vec::new();
    for (page, fragment, check, name) in cases {
        // The real page first, untouched: its screenshot is the artifact.
        let shot = artifacts.join(format!("{name}.png"));
        let url = format!("file://{}{fragment}", site.join(page).display());
        let (_, stderr) = browse(
            &chrome,
            &profile,
            &[
                "--window-size=1280,1800".into(),
                "--virtual-time-budget=2000".into(),
                format!("--screenshot={}", shot.display()),
            ],
            &url,
        );
        if !shot.is_file() {
            failures.push(format!("{page}: no screenshot ({stderr})"));
        }
        for line in stderr
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        {
            if line.contains("Uncaught") || line.contains(":ERROR:CONSOLE") {
                failures.push(format!("{page}: console: {line}"));
            }
        }
        let copy = instrument(&site, page, check, name);
        let url = format!("file://{}{fragment}", copy.display());
        let (dom, stderr) = browse(
            &chrome,
            &profile,
            &["--virtual-time-budget=3000".into(), "--dump-dom".into()],
            &url,
        );
        std::fs::write(artifacts.join(format!("{name}.dom.html")), &dom).unwrap();
        let Some(v) = verdict(&dom) else {
            failures.push(format!(
                "{page}: the checks did not report (stderr: {stderr})"
            ));
            continue;
        };
        assert!(!v.checks.is_empty(), "{page}: no checks ran");
        for c in v.checks.iter().filter(|c| !c.ok) {
            failures.push(format!("{page}: {} — got {}", c.name, c.detail));
        }
        for e in &v.errors {
            failures.push(format!("{page}: {e}"));
        }
        eprintln!("{page}: {} checks", v.checks.len());
    }
    assert!(
        failures.is_empty(),
        "browser checks failed (artifacts in {}):\n{}",
        artifacts.display(),
        failures.join("\n")
    );
}
