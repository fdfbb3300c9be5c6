//! ARM resource ids: `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}]*`.

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResourceId {
    pub subscription: String,
    pub resource_group: String,
    pub namespace: String,
    /// (type segment, name) pairs, outermost first.
    pub types: Vec<(String, String)>,
}

impl ResourceId {
    pub fn parse(id: &str) -> Option<Self> {
        let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
        if segs.len() < 8 || !segs.len().is_multiple_of(2) {
            return None;
        }
        if !segs[0].eq_ignore_ascii_case("subscriptions")
            || !segs[2].eq_ignore_ascii_case("resourceGroups")
            || !segs[4].eq_ignore_ascii_case("providers")
        {
            return None;
        }
        let types = segs[6..]
            .chunks(2)
            .map(|c| (c[0].to_string(), c[1].to_string()))
            .collect();
        Some(Self {
            subscription: segs[1].to_string(),
            resource_group: segs[3].to_string(),
            namespace: segs[5].to_string(),
            types,
        })
    }

    pub fn group_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }

    pub fn name(&self) -> &str {
        self.types.last().map(|(_, n)| n.as_str()).unwrap_or("")
    }

    /// `Namespace/type1/type2` as given in the path.
    pub fn full_type(&self) -> String {
        let mut t = self.namespace.clone();
        for (ty, _) in &self.types {
            t.push('/');
            t.push_str(ty);
        }
        t
    }

    pub fn parent(&self) -> Option<Self> {
        if self.types.len() < 2 {
            return None;
        }
        let mut p = self.clone();
        p.types.pop();
        Some(p)
    }

    /// Renders the id with canonical type segments taken from `canonical_type`.
    pub fn render(&self, canonical_type: &str) -> String {
        let canon: Vec<&str> = canonical_type.split('/').collect();
        let mut s = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{}",
            self.subscription,
            self.resource_group,
            canon.first().copied().unwrap_or(&self.namespace)
        );
        for (i, (ty, name)) in self.types.iter().enumerate() {
            let ty = canon.get(i + 1).copied().unwrap_or(ty);
            s.push('/');
            s.push_str(ty);
            s.push('/');
            s.push_str(name);
        }
        s
    }
}
