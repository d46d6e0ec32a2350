//! The lineage graph: products, the products they are derived from (`inputs`), and the domains'
//! declared consumers. Answers "what is downstream of X, and who owns it", finds cycles, and
//! renders the graph as DOT, Mermaid or JSON, and the repo's CODEOWNERS.
//!
//! Architecture invariant: pure, and deterministic: nodes are added in sorted order, so every
//! rendering is stable from run to run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use mesh_diagnostics::{Diagnostic, Diagnostics};
use mesh_model::{Mesh, Status};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// A node of the lineage graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Node {
    Product {
        id: String,
        domain: String,
        owners: Vec<String>,
        deprecated: bool,
    },
    /// A domain's principal reading products (one node per domain and principal), or a
    /// domain's sink connector (`<domain>/connector:<name>`, with `connector` set).
    Consumer {
        id: String,
        domain: String,
        principal: String,
        groups: Vec<String>,
        owners: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        connector: Option<String>,
    },
}

impl Node {
    pub fn id(&self) -> &str {
        match self {
            Node::Product { id, .. } | Node::Consumer { id, .. } => id,
        }
    }
}

/// What an edge means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Edge {
    /// The source product is an input of the target product.
    Feeds,
    /// The target consumer reads the source product.
    Consumes,
}

pub struct Lineage {
    pub graph: DiGraph<Node, Edge>,
    index: BTreeMap<String, NodeIndex>,
}

impl Lineage {
    /// Builds the graph; references that do not resolve are skipped (validation reports them).
    pub fn build(mesh: &Mesh) -> Lineage {
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for p in &mesh.products {
            let n = graph.add_node(Node::Product {
                id: p.id.clone(),
                domain: p.domain.clone(),
                owners: p.owners.clone(),
                deprecated: p.status == Status::Deprecated,
            });
            index.insert(p.id.clone(), n);
        }
        for p in &mesh.products {
            for input in &p.inputs {
                if let (Some(&from), Some(&to)) = (index.get(&input.value), index.get(&p.id))
                    && from != to
                {
                    graph.add_edge(from, to, Edge::Feeds);
                }
            }
        }
        for d in &mesh.domains {
            let mut by_principal: BTreeMap<&str, Vec<&mesh_model::Consume>> = BTreeMap::new();
            for c in &d.consumes {
                by_principal.entry(&c.principal.value).or_default().push(c);
            }
            for (principal, consumes) in by_principal {
                let id = format!("{}/{principal}", d.name);
                let groups: BTreeSet<String> =
                    consumes.iter().map(|c| c.group.value.clone()).collect();
                let n = graph.add_node(Node::Consumer {
                    id: id.clone(),
                    domain: d.name.clone(),
                    principal: principal.to_string(),
                    groups: groups.into_iter().collect(),
                    owners: d.owners.clone(),
                    connector: None,
                });
                index.insert(id, n);
                let products: BTreeSet<&str> =
                    consumes.iter().map(|c| c.product.value.as_str()).collect();
                for product in products {
                    if let Some(&from) = index.get(product) {
                        graph.add_edge(from, n, Edge::Consumes);
                    }
                }
            }
        }
        // A sink connector reads its product like a consumer; its owners are its domain's.
        for c in mesh.connectors.iter().filter(|c| c.is_sink()) {
            let (Some(d), Some(&from)) = (mesh.domain(&c.domain), index.get(&c.product().value))
            else {
                continue;
            };
            let id = format!("{}/connector:{}", c.domain, c.name);
            let n = graph.add_node(Node::Consumer {
                id: id.clone(),
                domain: c.domain.clone(),
                principal: c.principal.value.clone(),
                groups: vec![c.group()],
                owners: d.owners.clone(),
                connector: Some(c.name.clone()),
            });
            index.insert(id, n);
            graph.add_edge(from, n, Edge::Consumes);
        }
        Lineage { graph, index }
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.index.get(id).map(|&i| &self.graph[i])
    }

    /// Lineage cycles among products, each as a sorted list of product ids.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .map(|scc| {
                let mut ids: Vec<String> = scc
                    .iter()
                    .map(|&i| self.graph[i].id().to_string())
                    .collect();
                ids.sort();
                ids
            })
            .collect();
        out.sort();
        out
    }

    /// Reports each cycle at every product file in it.
    pub fn check_cycles(&self, mesh: &Mesh, ds: &mut Diagnostics) {
        for cycle in self.cycles() {
            for id in &cycle {
                let Some(p) = mesh.product(id) else { continue };
                let span = p
                    .inputs
                    .iter()
                    .find(|i| cycle.contains(&i.value))
                    .map_or(0..0, |i| i.span.clone());
                ds.push(
                    Diagnostic::error("lineage-cycle", &p.file, span, format!("{id} is part of a lineage cycle: {}", cycle.join(" → ")))
                        .with_help("a product cannot be derived, directly or through others, from itself; remove one of these inputs"),
                );
            }
        }
    }

    /// Everything downstream of a product, nearest first.
    pub fn impact(&self, id: &str) -> Option<Impact> {
        let &start = self.index.get(id)?;
        let mut seen = BTreeSet::from([start]);
        let mut queue = VecDeque::from([(start, 0usize)]);
        let mut impact = Impact {
            product: id.to_string(),
            products: Vec::new(),
            consumers: Vec::new(),
        };
        while let Some((n, depth)) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = self
                .graph
                .neighbors(n)
                .filter(|m| !seen.contains(m))
                .collect();
            next.sort_by(|a, b| self.graph[*a].id().cmp(self.graph[*b].id()));
            for m in next {
                seen.insert(m);
                match &self.graph[m] {
                    Node::Product { id, owners, .. } => {
                        impact.products.push(Downstream {
                            id: id.clone(),
                            owners: owners.clone(),
                            depth: depth + 1,
                        });
                        queue.push_back((m, depth + 1));
                    }
                    Node::Consumer { id, owners, .. } => impact.consumers.push(Downstream {
                        id: id.clone(),
                        owners: owners.clone(),
                        depth: depth + 1,
                    }),
                }
            }
        }
        Some(impact)
    }

    pub fn to_dot(&self) -> String {
        let mut out =
            String::from("digraph mesh {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
        let mut domains: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
        for n in self.graph.node_weights() {
            let d = match n {
                Node::Product { domain, .. } | Node::Consumer { domain, .. } => domain.as_str(),
            };
            domains.entry(d).or_default().push(n);
        }
        for (d, nodes) in domains {
            out.push_str(&format!(
                "  subgraph \"cluster_{d}\" {{\n    label=\"{d}\";\n"
            ));
            for n in nodes {
                let (shape, style) = match n {
                    Node::Product {
                        deprecated: true, ..
                    } => ("box", ", style=dashed"),
                    Node::Product { .. } => ("box", ""),
                    Node::Consumer { .. } => ("ellipse", ""),
                };
                out.push_str(&format!("    \"{}\" [shape={shape}{style}];\n", n.id()));
            }
            out.push_str("  }\n");
        }
        for e in self.sorted_edges() {
            let style = if e.2 == Edge::Consumes {
                " [style=dotted]"
            } else {
                ""
            };
            out.push_str(&format!("  \"{}\" -> \"{}\"{style};\n", e.0, e.1));
        }
        out.push_str("}\n");
        out
    }

    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let ids: BTreeMap<&str, String> = self
            .index
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), format!("n{i}")))
            .collect();
        for (id, short) in &ids {
            let n = self.node(id).expect("every indexed id has a node");
            match n {
                Node::Product { .. } => out.push_str(&format!("  {short}[\"{id}\"]\n")),
                Node::Consumer { .. } => out.push_str(&format!("  {short}([\"{id}\"])\n")),
            }
        }
        for (from, to, kind) in self.sorted_edges() {
            let arrow = if kind == Edge::Consumes {
                "-.->"
            } else {
                "-->"
            };
            out.push_str(&format!(
                "  {} {arrow} {}\n",
                ids[from.as_str()],
                ids[to.as_str()]
            ));
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        let nodes: Vec<&Node> = self.index.values().map(|&i| &self.graph[i]).collect();
        let edges: Vec<serde_json::Value> = self
            .sorted_edges()
            .into_iter()
            .map(|(from, to, kind)| serde_json::json!({"from": from, "to": to, "kind": kind}))
            .collect();
        serde_json::json!({"version": 1, "nodes": nodes, "edges": edges})
    }

    fn sorted_edges(&self) -> Vec<(String, String, Edge)> {
        let mut edges: Vec<(String, String, Edge)> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some((
                    self.graph[a].id().to_string(),
                    self.graph[b].id().to_string(),
                    self.graph[e],
                ))
            })
            .collect();
        edges.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        edges
    }
}

/// What a change to a product can break.
#[derive(Clone, Debug, Serialize)]
pub struct Impact {
    pub product: String,
    /// Products derived from it, directly (depth 1) or further down.
    pub products: Vec<Downstream>,
    /// Consumers (domain/principal) of it or of anything downstream.
    pub consumers: Vec<Downstream>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Downstream {
    pub id: String,
    pub owners: Vec<String>,
    pub depth: usize,
}

/// A CODEOWNERS file routing each domain folder to its owners, and each product file with its own
/// owners to those.
pub fn codeowners(mesh: &Mesh) -> String {
    let mut out = String::from("# Generated by `mesh codeowners`; do not edit by hand.\n");
    for d in &mesh.domains {
        if d.owners.is_empty() {
            continue;
        }
        out.push_str(&format!("/{}/ {}\n", d.dir, d.owners.join(" ")));
        for p in mesh
            .products
            .iter()
            .filter(|p| p.domain == d.name && p.owners != d.owners && !p.owners.is_empty())
        {
            out.push_str(&format!("/{} {}\n", p.file, p.owners.join(" ")));
        }
    }
    out
}
