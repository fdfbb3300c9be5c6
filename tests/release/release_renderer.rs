//! `scripts/render-template` must render like the Director: the template tests
//! are only worth what this renderer's fidelity is worth.

use crate::release_support;

use std::process::Command;

use release_support::{describe, repo_root, ruby_available};

const JOB_SPEC: &str = r#"---
name: demo
templates: {}
properties:
  a.with_default:
    default: 7
  a.without_default:
    description: no default
  a.null_default:
    default: null
  list:
    default: [x]
"#;

/// Renders `template` against JOB_SPEC and `properties` (YAML).
fn render(template: &str, properties: &str, strict: bool) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let spec = write("spec", JOB_SPEC);
    let erb = write("template.erb", template);
    let props = write("properties.yml", properties);
    let out = Command::new("ruby")
        .arg(repo_root().join("scripts/render-template"))
        .arg(&spec)
        .arg(&erb)
        .arg(&props)
        .env("RENDER_TEMPLATE_STRICT", if strict { "1" } else { "0" })
        .output()
        .expect("run ruby");
    match out.status.code() {
        Some(0) => Ok(String::from_utf8(out.stdout).unwrap()),
        Some(1) => Err(String::from_utf8(out.stderr).unwrap().trim_end().to_owned()),
        _ => panic!("render-template: {}", describe(&out)),
    }
}

#[test]
fn p_uses_the_value_then_the_spec_default_then_its_argument() {
    if !ruby_available() {
        return;
    }
    let template = "<%= p('a.with_default') %>,<%= p('a.without_default', 'arg') %>,\
                    <%= p(['a.null_default', 'a.with_default']) %>,<%= p('list').inspect %>";
    assert_eq!(render(template, "{}", true), Ok("7,arg,7,[\"x\"]".into()));
    // A null in the manifest counts as unset, so the spec default applies.
    assert_eq!(
        render(
            template,
            "a: {with_default: null, without_default: 1}",
            true
        ),
        Ok("7,1,7,[\"x\"]".into())
    );
    assert_eq!(
        render(
            template,
            "a: {with_default: false, null_default: 2}\nlist: []",
            true
        ),
        Ok("false,arg,2,[]".into())
    );
}

#[test]
fn p_without_value_or_default_fails_like_the_director() {
    if !ruby_available() {
        return;
    }
    assert_eq!(
        render("<%= p('a.without_default') %>", "{}", true),
        Err(r#"Can't find property '["a.without_default"]'"#.into())
    );
    assert_eq!(
        render(
            "<%= p(['a.without_default', 'a.null_default']) %>",
            "{}",
            true
        ),
        Err(r#"Can't find property '["a.without_default", "a.null_default"]'"#.into())
    );
}

#[test]
fn if_p_runs_one_branch() {
    if !ruby_available() {
        return;
    }
    let template = "<% if_p('a.without_default', 'a.with_default') do |x, y| %>both <%= x %> <%= y %>\
                    <% end.else_if_p('a') do |a| %>parent <%= a.keys.sort.join('+') %>\
                    <% end.else do %>none<% end %>";
    assert_eq!(
        render(template, "a: {without_default: 1}", true),
        Ok("both 1 7".into())
    );
    // `a` always exists: the spec gives it children with defaults.
    assert_eq!(
        render(template, "{}", true),
        Ok("parent null_default+with_default+without_default".into())
    );
    let no_parent = "<% if_p('a.without_default') do %>set<% end.else do %>unset<% end %>";
    assert_eq!(render(no_parent, "{}", true), Ok("unset".into()));
}

#[test]
fn undeclared_properties_are_invisible_and_strict_mode_reports_them() {
    if !ruby_available() {
        return;
    }
    let template = "<%= p('a.extra', 'absent') %>";
    assert_eq!(
        render(template, "a: {extra: 1}", false),
        Ok("absent".into())
    );
    assert_eq!(
        render(template, "a: {extra: 1}", true),
        Err("template reads property 'a.extra', which the job spec does not declare".into())
    );
}

#[test]
fn a_scalar_where_a_hash_is_needed_fails_like_the_director() {
    if !ruby_available() {
        return;
    }
    assert_eq!(
        render("<%= p('list') %>", "a: 5", true),
        Err("Property 'a.with_default' expects a hash, but received 'Integer'".into())
    );
}

#[test]
fn spec_and_trim_mode_are_available() {
    if !ruby_available() {
        return;
    }
    let template =
        "<% [1, 2].each do |i| -%>\n<%= i %>\n<% end -%>\n<%= spec.name %> <%= spec.index %>";
    assert_eq!(render(template, "{}", true), Ok("1\n2\ndemo 0".into()));
}
