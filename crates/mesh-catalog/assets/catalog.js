// mesh catalog: the site's only script, hand-written, no dependencies. It reads the data the
// generator embedded as globals (window.MESH_INDEX, window.MESH_GRAPH), so every page works
// from file:// as well as from any static host. Everything repo-written is inserted as text
// (textContent), never as HTML.
(function () {
  'use strict';

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  // ---------------------------------------------------------------- search (index.html)
  // Row layout of MESH_INDEX: id, domain, description, quality, sla, status, visibility,
  // owners, tags, schema field paths (space-separated), field docs.
  var COLUMN = { domain: 1, quality: 3, sla: 4, status: 5, visibility: 6 };
  var PAGE = 50;

  function initSearch() {
    var q = document.getElementById('q');
    var rows = window.MESH_INDEX;
    if (!q || !rows) return;
    var results = document.getElementById('results');
    var count = document.getElementById('count');
    var more = document.getElementById('more');
    var selects = Array.prototype.slice.call(document.querySelectorAll('select[data-filter]'));
    var hay = new Array(rows.length);
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      hay[i] = (r[0] + '\n' + r[2] + '\n' + r[7] + '\n' + r[8] + '\n' + r[9] + '\n' + r[10]).toLowerCase();
    }
    var limit = PAGE;
    var matches = [];

    function readHash() {
      var h = location.hash.replace(/^#/, '');
      if (!h) return;
      h.split('&').forEach(function (part) {
        var kv = part.split('=');
        var k = decodeURIComponent(kv[0] || '');
        var v = decodeURIComponent((kv[1] || '').replace(/\+/g, ' '));
        if (k === 'q') q.value = v;
        selects.forEach(function (s) { if (s.getAttribute('data-filter') === k) s.value = v; });
      });
    }

    function writeHash() {
      var parts = [];
      if (q.value) parts.push('q=' + encodeURIComponent(q.value));
      selects.forEach(function (s) {
        if (s.value) parts.push(s.getAttribute('data-filter') + '=' + encodeURIComponent(s.value));
      });
      var h = parts.length ? '#' + parts.join('&') : location.pathname + location.search;
      try { history.replaceState(null, '', h); } catch (e) { /* some file:// setups refuse; harmless */ }
    }

    function search() {
      var terms = q.value.toLowerCase().split(/\s+/).filter(Boolean);
      var wanted = selects.filter(function (s) { return s.value; })
        .map(function (s) { return [COLUMN[s.getAttribute('data-filter')], s.value]; });
      var exact = [], rest = [];
      outer: for (var i = 0; i < rows.length; i++) {
        var r = rows[i];
        for (var w = 0; w < wanted.length; w++) if (r[wanted[w][0]] !== wanted[w][1]) continue outer;
        for (var t = 0; t < terms.length; t++) if (hay[i].indexOf(terms[t]) < 0) continue outer;
        var inId = terms.length > 0 && terms.every(function (t) { return r[0].indexOf(t) >= 0; });
        (inId ? exact : rest).push(i);
      }
      matches = exact.concat(rest);
      limit = PAGE;
      render(terms);
      writeHash();
    }

    function badge(kind, value) {
      return el('span', { 'class': 'badge ' + kind + '-' + value, title: kind }, value);
    }

    function render(terms) {
      results.textContent = '';
      var shown = Math.min(limit, matches.length);
      var frag = document.createDocumentFragment();
      for (var n = 0; n < shown; n++) {
        var r = rows[matches[n]];
        var li = el('li', { 'class': 'result', 'data-id': r[0] });
        var head = el('div', { 'class': 'result-head' });
        head.appendChild(el('a', { href: 'products/' + r[0] + '.html', 'class': 'result-id' }, r[0]));
        head.appendChild(document.createTextNode(' '));
        head.appendChild(badge('quality', r[3]));
        head.appendChild(badge('sla', r[4]));
        head.appendChild(badge('status', r[5]));
        head.appendChild(badge('visibility', r[6]));
        li.appendChild(head);
        li.appendChild(el('div', { 'class': 'result-desc' }, r[2]));
        var meta = 'owners: ' + r[7] + (r[8] ? ' · tags: ' + r[8] : '');
        li.appendChild(el('div', { 'class': 'muted' }, meta));
        if (terms.length && r[9]) {
          var hits = r[9].split(' ').filter(function (f) {
            var lf = f.toLowerCase();
            return terms.some(function (t) { return lf.indexOf(t) >= 0; });
          });
          if (hits.length) {
            li.appendChild(el('div', { 'class': 'field-hit' }, 'schema fields: ' + hits.slice(0, 6).join(', ')));
          }
        }
        frag.appendChild(li);
      }
      results.appendChild(frag);
      count.textContent = matches.length === rows.length
        ? rows.length + ' products'
        : matches.length + ' of ' + rows.length + ' products';
      more.hidden = shown >= matches.length;
    }

    q.addEventListener('input', search);
    selects.forEach(function (s) { s.addEventListener('change', search); });
    more.addEventListener('click', function () { limit += PAGE * 4; render(q.value.toLowerCase().split(/\s+/).filter(Boolean)); });
    readHash();
    search();
    if (!q.value) q.focus();
  }

  // ---------------------------------------------------------------- lineage graph
  var graph = null;
  function loadGraph() {
    if (graph || !window.MESH_GRAPH) return graph;
    var g = window.MESH_GRAPH;
    var n = g.nodes.length;
    graph = { nodes: g.nodes, index: {}, up: new Array(n), down: new Array(n) };
    for (var i = 0; i < n; i++) { graph.index[g.nodes[i][0]] = i; graph.up[i] = []; graph.down[i] = []; }
    g.edges.forEach(function (e) { graph.down[e[0]].push(e[1]); graph.up[e[1]].push(e[0]); });
    return graph;
  }

  // Breadth-first both ways from the focus: layer -k is k hops upstream, +k downstream.
  function neighbourhood(g, focus, depth) {
    var layer = {};
    layer[focus] = 0;
    [['up', -1], ['down', 1]].forEach(function (dir) {
      var frontier = [focus];
      for (var d = 1; d <= depth && frontier.length; d++) {
        var next = [];
        frontier.forEach(function (v) {
          g[dir[0]][v].forEach(function (w) {
            if (!(w in layer)) { layer[w] = d * dir[1]; next.push(w); }
          });
        });
        frontier = next;
      }
    });
    return layer;
  }

  var SVG = 'http://www.w3.org/2000/svg';
  var MAX_PER_LAYER = 24, NODE_W = 220, NODE_H = 26, GAP_X = 50, GAP_Y = 10;

  function svgEl(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function hue(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
    return h;
  }

  function drawLineage(box) {
    var g = loadGraph();
    if (!g) return;
    var focusId = box.getAttribute('data-focus');
    var depth = parseInt(box.getAttribute('data-depth'), 10) || 2;
    var root = box.getAttribute('data-root') || '';
    var status = box.parentNode.querySelector('.lineage-status');
    var focus = g.index[focusId];
    box.textContent = '';
    if (focus === undefined) {
      if (status) status.textContent = focusId ? 'No product ' + focusId + '.' : '';
      return;
    }
    var layer = neighbourhood(g, focus, depth);
    var byLayer = {};
    Object.keys(layer).forEach(function (k) {
      var v = +k, l = layer[k];
      (byLayer[l] = byLayer[l] || []).push(v);
    });
    var layers = Object.keys(byLayer).map(Number).sort(function (a, b) { return a - b; });
    var pos = {}, hidden = 0, tallest = 1;
    layers.forEach(function (l, col) {
      var list = byLayer[l].sort(function (a, b) { return g.nodes[a][0] < g.nodes[b][0] ? -1 : 1; });
      if (list.length > MAX_PER_LAYER) { hidden += list.length - MAX_PER_LAYER; byLayer[l] = list = list.slice(0, MAX_PER_LAYER); }
      tallest = Math.max(tallest, list.length);
      list.forEach(function (v, row) { pos[v] = { x: 10 + col * (NODE_W + GAP_X), y: 10 + row * (NODE_H + GAP_Y), col: col, row: row }; });
    });
    var width = 20 + layers.length * NODE_W + (layers.length - 1) * GAP_X + 50; // + room for same-column loops
    var height = 20 + tallest * (NODE_H + GAP_Y);
    // Centre shorter columns vertically.
    layers.forEach(function (l) {
      var list = byLayer[l];
      var offset = (tallest - list.length) * (NODE_H + GAP_Y) / 2;
      list.forEach(function (v) { pos[v].y += offset; });
    });
    // Scale a slightly too wide graph down to fit; scroll a much wider one (more hops).
    var room = box.clientWidth - 2;
    var scale = room > 0 && width > room && width < room * 1.6 ? room / width : 1;
    var svg = svgEl('svg', { width: Math.round(width * scale), height: Math.round(height * scale), viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'Lineage of ' + focusId });
    var edges = svgEl('g', { 'class': 'edges' });
    Object.keys(pos).forEach(function (k) {
      var a = +k;
      g.down[a].forEach(function (b) {
        if (!pos[b]) return;
        var x1 = pos[a].x + NODE_W, y1 = pos[a].y + NODE_H / 2, x2 = pos[b].x, y2 = pos[b].y + NODE_H / 2;
        var d;
        if (pos[a].col === pos[b].col) {
          // Both in one column: a loop out to the right and back in, rather than through it.
          x2 = x1;
          d = 'M' + x1 + ',' + y1 + ' C' + (x1 + 45) + ',' + y1 + ' ' + (x1 + 45) + ',' + y2 + ' ' + x2 + ',' + y2;
        } else {
          var mid = (x1 + x2) / 2;
          d = 'M' + x1 + ',' + y1 + ' C' + mid + ',' + y1 + ' ' + mid + ',' + y2 + ' ' + x2 + ',' + y2;
        }
        edges.appendChild(svgEl('path', {
          'class': 'edge' + (a === focus || b === focus ? ' near' : ''),
          d: d,
          'marker-end': 'url(#arrow)'
        }));
      });
    });
    var defs = svgEl('defs', {});
    var marker = svgEl('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' });
    marker.appendChild(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', 'class': 'arrow' }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    svg.appendChild(edges);
    var nodes = svgEl('g', { 'class': 'nodes' });
    Object.keys(pos).forEach(function (k) {
      var v = +k, p = pos[v], node = g.nodes[v];
      var cls = 'node' + (v === focus ? ' focus' : '') + (node[2] ? ' deprecated' : '');
      var grp = svgEl('g', { 'class': cls, 'data-id': node[0], tabindex: '0', role: 'button', transform: 'translate(' + p.x + ',' + p.y + ')' });
      var t = svgEl('title', {});
      t.textContent = node[0] + (v === focus ? ' (centred; click to open its page)' : ' (click to centre the graph on it)');
      grp.appendChild(t);
      grp.appendChild(svgEl('rect', { width: NODE_W, height: NODE_H, rx: 5, style: 'stroke:hsl(' + hue(node[1]) + ',55%,45%)' }));
      var label = svgEl('text', { x: 8, y: NODE_H / 2 + 4 });
      label.textContent = node[0].length > 30 ? node[0].slice(0, 29) + '…' : node[0];
      grp.appendChild(label);
      nodes.appendChild(grp);
    });
    svg.appendChild(nodes);
    box.appendChild(svg);
    if (status) {
      status.textContent = '';
      status.appendChild(document.createTextNode('centred on '));
      status.appendChild(el('a', { href: root + 'products/' + focusId + '.html', 'class': 'lineage-open' }, focusId));
      var count = Object.keys(pos).length;
      status.appendChild(document.createTextNode(' · ' + count + ' product' + (count === 1 ? '' : 's') + ' within ' + depth + ' hop' + (depth === 1 ? '' : 's') + (hidden ? ' (' + hidden + ' more not drawn)' : '')));
    }
  }

  function initLineage() {
    var boxes = document.querySelectorAll('.lineage');
    if (!boxes.length || !loadGraph()) return;
    Array.prototype.forEach.call(boxes, function (box) {
      var section = box.parentNode;
      var followHash = box.getAttribute('data-hash') === '1';
      var root = box.getAttribute('data-root') || '';
      function focusOn(id) {
        box.setAttribute('data-focus', id);
        drawLineage(box);
        if (followHash && location.hash !== '#' + id) {
          try { history.replaceState(null, '', '#' + id); } catch (e) { /* harmless */ }
        }
      }
      function activate(target) {
        var node = target.closest ? target.closest('.node') : null;
        if (!node) return;
        var id = node.getAttribute('data-id');
        if (id === box.getAttribute('data-focus')) location.href = root + 'products/' + id + '.html';
        else focusOn(id);
      }
      box.addEventListener('click', function (e) { activate(e.target); });
      box.addEventListener('keydown', function (e) { if (e.key === 'Enter') activate(e.target); });
      var depth = section.querySelector('.lineage-depth');
      if (depth) depth.addEventListener('change', function () { box.setAttribute('data-depth', depth.value); drawLineage(box); });
      if (followHash) {
        var fromHash = decodeURIComponent(location.hash.replace(/^#/, ''));
        if (fromHash && graph.index[fromHash] !== undefined) box.setAttribute('data-focus', fromHash);
        window.addEventListener('hashchange', function () {
          var id = decodeURIComponent(location.hash.replace(/^#/, ''));
          if (graph.index[id] !== undefined && id !== box.getAttribute('data-focus')) focusOn(id);
        });
        var pick = document.getElementById('lineage-pick');
        var list = document.getElementById('lineage-ids');
        if (pick && list) {
          var frag = document.createDocumentFragment();
          graph.nodes.forEach(function (n) { frag.appendChild(el('option', { value: n[0] })); });
          list.appendChild(frag);
          pick.addEventListener('change', function () { if (graph.index[pick.value] !== undefined) focusOn(pick.value); });
        }
      }
      drawLineage(box);
    });
  }

  function init() {
    initSearch();
    initLineage();
    window.MESH_READY_MS = performance.now();
    document.documentElement.setAttribute('data-ready', '1');
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
