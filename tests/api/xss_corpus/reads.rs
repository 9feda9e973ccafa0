//! Reading back: every place a payload comes back, fetched and checked.

use super::*;

/// Fetches and checks every place that shows payload `i`'s own things.
pub(super) async fn check_world(ctx: Arc<Ctx>, w: World) -> Findings {
    let mut f = Findings::default();
    let i = w.i;
    let board = Some(ctx.board.as_str());
    let me = Some(w.token.as_str());
    let e = |codes: &[&str]| ctx.expect(codes, i);

    // The idea, to its author: they see the board's reply and, in place of
    // the hidden comment, the board's reason.
    let idea = format!("/ideas/{}", w.idea);
    let page = ctx.get(&idea, me).await;
    f.page(
        &format!("{idea} (its author)"),
        &page,
        &e(&["it", "id", "ie", "cm", "hr", "sn", "th", "dn", "nr"]),
    );

    // The JSON API's reads that carry rendered Markdown (`*_html`).
    let api = format!("/api/v1/consultations/{}", w.slug);
    for (path, token, expected) in [
        (
            format!("/api/v1/ideas/{}", w.idea),
            None,
            e(&["it", "id", "ie", "sn", "th", "dn"]),
        ),
        (
            format!("/api/v1/ideas/{}/comments", w.idea),
            board,
            e(&["cm", "ce", "hr", "dn"]),
        ),
        (
            format!("/api/v1/inbox/idea/{}/notes", w.idea),
            board,
            e(&["ni", "nr"]),
        ),
        (
            format!("/api/v1/reports/{}", w.report),
            me,
            e(&["rs", "rp", "rr", "ri", "rf", "re", "rn", "or"]),
        ),
        (
            api.clone(),
            None,
            e(&["ct", "cs", "cd", "ch", "qp", "qh", "qo"]),
        ),
    ] {
        let answer = ctx.get(&path, token).await;
        f.json(&path, &answer, &expected);
    }

    // The person's own pages.
    let c = format!("/consultations/{}", w.slug);
    for (path, expected) in [
        ("/profile".to_owned(), e(&["dn", "jt", "og"])),
        ("/account/tokens".to_owned(), e(&["dn", "tk"])),
        ("/my-submissions".to_owned(), e(&["it", "rs"])),
        (
            format!("/reports/{}", w.report),
            e(&["rs", "rp", "rr", "ri", "rf", "re", "rn", "or"]),
        ),
        (
            format!("{c}/response"),
            e(&["ct", "qp", "qh", "qo", "on", "pa", "ci", "an"]),
        ),
        (format!("{c}/sections/scope"), e(&["ct", "cd"])),
        (format!("/comments/{}/edit", w.comment), e(&["cm"])),
    ] {
        let answer = ctx.get(&path, me).await;
        f.page(&format!("{path} (its author)"), &answer, &expected);
    }
    let data = ctx.get("/account/data", me).await;
    f.json(
        "/account/data",
        &data,
        &e(&[
            "dn", "jt", "og", "tk", "it", "id", "ie", "cm", "ce", "rs", "rp", "rr", "ri", "rf",
            "re", "on", "pa", "ci", "an", "sc",
        ]),
    );

    // The consultation in public, and its outcome in every format.
    for (path, expected) in [
        (c.clone(), e(&["ct", "cs", "cd", "ch"])),
        (format!("{c}/versions/2"), e(&["ct", "cd", "ch", "vs"])),
        (format!("{c}/outcome"), e(&["ct", "os", "sc", "ra", "dn"])),
    ] {
        let answer = ctx.get(&path, None).await;
        f.page(&format!("{path} (signed out)"), &answer, &expected);
    }
    let outcome = e(&["ct", "sc", "ra", "dn"]);
    let md = ctx.get(&format!("{c}/outcome.md"), None).await;
    f.markdown(
        &format!("{c}/outcome.md"),
        &md.body,
        &outcome,
        &outcome_summary(&ctx, i),
    );
    let csv = ctx.get(&format!("{c}/outcome.csv"), None).await;
    f.csv(
        &format!("{c}/outcome.csv"),
        &csv.body,
        &e(&["sc", "ra", "dn"]),
    );
    let json = ctx.get(&format!("{c}/outcome.json"), None).await;
    f.json(
        &format!("{c}/outcome.json"),
        &json,
        &e(&["ct", "os", "sc", "ra", "dn"]),
    );

    // Each thing's audit trail, shown to the board as a page and as CSV.
    let audited: [(&str, &String, &[&str]); 6] = [
        ("idea", &w.idea, &["it", "sn"]),
        ("report", &w.report, &["rs", "rn"]),
        ("comment", &w.hidden_comment, &["ce", "hr"]),
        ("consultation", &w.consultation_id, &["ct"]),
        ("consultation_response", &w.response, &["on", "rx"]),
        ("section_comment", &w.section_comment, &["ra"]),
    ];
    let audits: Vec<(String, Vec<String>)> = audited
        .into_iter()
        .map(|(kind, id, codes)| (format!("/board/audit/{kind}/{id}"), e(codes)))
        .collect();

    // The board's pages about this payload's things.
    let analysis = format!("{c}/analysis");
    let mut pages = vec![
        (
            format!("/board/items/idea/{}", w.idea),
            e(&["it", "tg", "rs", "ct", "ch"]),
        ),
        (
            format!("/board/items/report/{}", w.report),
            e(&["rs", "it"]),
        ),
        (format!("/board/notes/idea/{}", w.idea), e(&["ni", "nr"])),
        (format!("/ideas/{}/status", w.idea), e(&["it"])),
        (format!("/reports/{}/status", w.report), e(&["rs"])),
        (format!("/comments/{}/hide", w.hidden_comment), e(&["ce"])),
    ];
    pages.extend(audits.iter().cloned());
    pages.extend([
        (format!("{c}/edit"), e(&["ct", "cs"])),
        (
            format!("{c}/questions/{}", w.free_question),
            e(&["qp", "qh"]),
        ),
        (format!("{c}/questions/{}", w.choice_question), e(&["qo"])),
        (analysis.clone(), e(&["ct", "qp", "qo", "an", "ch"])),
        (format!("{analysis}/responses"), e(&["ct", "dn", "on"])),
        (
            format!("{analysis}/responses/{}", w.response),
            e(&[
                "ct", "dn", "on", "pa", "ci", "qp", "an", "rd", "rx", "sc", "ra",
            ]),
        ),
        (
            format!("{analysis}/sections/1/scope"),
            e(&["ct", "sc", "ra", "dn"]),
        ),
    ]);
    for (path, expected) in pages {
        let answer = ctx.get(&path, board).await;
        f.page(&format!("{path} (board)"), &answer, &expected);
    }
    let csvs = audits
        .into_iter()
        .map(|(path, expected)| (format!("{path}/csv"), expected))
        .chain([(
            format!("{analysis}/responses.csv"),
            e(&["dn", "qp", "on", "pa", "ci", "an", "sc", "ra", "rx", "rd"]),
        )]);
    for (path, expected) in csvs {
        let answer = ctx.get(&path, board).await;
        f.csv(&path, &answer.body, &expected);
    }
    let json = ctx.get(&format!("{analysis}/responses.json"), board).await;
    f.json(
        &format!("{analysis}/responses.json"),
        &json,
        &e(&["dn", "qp", "on", "pa", "ci", "an", "sc", "ra", "rx", "rd"]),
    );

    check_echoes(&ctx, &w, &mut f).await;
    f
}

/// Forms that show back what was typed: the idea preview (with its
/// Markdown rendered), the refusals of the profile, a report and a link,
/// and a search for the payload itself.
pub(super) async fn check_echoes(ctx: &Ctx, w: &World, f: &mut Findings) {
    let i = w.i;
    let me = Some(w.token.as_str());
    let typed = |codes: &[&str]| -> Vec<String> { codes.iter().map(|c| marker(c, i)).collect() };
    let preview = ctx
        .send(
            Method::POST,
            "/ideas/new",
            me,
            form(&[
                ("title", text("it", i)),
                ("description", text("id", i)),
                ("expected_impact", text("ie", i)),
                ("themes", w.theme.clone()),
                ("beneficiaries", "patients".to_owned()),
                ("action", "continue".to_owned()),
            ]),
        )
        .await;
    f.page(
        &format!("/ideas/new previewing payload {i} ({})", preview.status),
        &preview,
        &typed(&["it", "id", "ie"]),
    );
    let refused = ctx
        .send(
            Method::POST,
            "/profile",
            me,
            form(&[
                ("display_name", text("dn", i)),
                ("respondent_type", String::new()),
                ("organisation", text("og", i)),
                ("ods_code", String::new()),
                ("job_title", text("jt", i)),
            ]),
        )
        .await;
    assert_eq!(refused.status, 422, "no respondent type");
    f.page(
        &format!("/profile refusing payload {i}"),
        &refused,
        &typed(&["dn", "og", "jt"]),
    );
    let refused = ctx
        .send(
            Method::POST,
            "/reports/new",
            me,
            form(&[
                ("organisation", text("or", i)),
                ("system_name", text("rs", i)),
                ("supplier_name", text("rp", i)),
                ("category", "outage".to_owned()),
                ("standard_reference", text("rr", i)),
                ("severity", String::new()),
                ("patient_impact", text("ri", i)),
                ("staff_impact", text("rf", i)),
                ("evidence", text("re", i)),
            ]),
        )
        .await;
    assert_eq!(refused.status, 422, "no severity");
    f.page(
        &format!("/reports/new refusing payload {i}"),
        &refused,
        &typed(&["or", "rs", "rp", "rr", "ri", "rf", "re"]),
    );
    let address = format!("/consultations/{}/sections/{}", w.slug, text("lp", i));
    let refused = ctx
        .send(
            Method::POST,
            &format!("/board/items/idea/{}/links", w.idea),
            Some(&ctx.board),
            form(&[("target", address)]),
        )
        .await;
    assert_eq!(refused.status, 422, "no such section");
    f.page(
        &format!("/board/items/idea/… refusing a link to payload {i}"),
        &refused,
        &typed(&["lp"]),
    );
    let q: String = url::form_urlencoded::byte_serialize(text("q_", i).as_bytes()).collect();
    for (path, token) in [
        (format!("/search?q={q}"), None),
        (format!("/search/save?q={q}"), Some(ctx.board.as_str())),
    ] {
        let answer = ctx.send(Method::GET, &path, token, Body::None).await;
        let what = path.split('?').next().unwrap_or_default();
        f.page(
            &format!("{what} for payload {i} ({})", answer.status),
            &answer,
            &typed(&["q_"]),
        );
    }
}

/// Every page of a list, following its "next" links.
pub(super) async fn every_page(
    ctx: &Ctx,
    f: &mut Findings,
    first: &str,
    token: Option<&str>,
    expected: &[String],
) {
    let next = Selector::parse("a[rel=next]").expect("selector");
    let mut path = first.to_owned();
    let mut shown = String::new();
    for _ in 0..20 {
        let answer = ctx.get(&path, token).await;
        assert!(answer.content_type.starts_with("text/html"), "{path}");
        let doc = Html::parse_document(&answer.body);
        shown.push_str(&f.inspect(&path, &doc));
        let link = doc
            .select(&next)
            .filter_map(|a| a.value().attr("href"))
            .next()
            .map(str::to_owned);
        match link {
            Some(link) if link != path => path = link,
            _ => break,
        }
    }
    f.shown(&format!("{first} (every page)"), &shown, expected);
}

/// Lists and pages that show every payload at once.
pub(super) async fn check_lists(
    ctx: &Ctx,
    digest_tokens: &[String],
    import_id: &str,
    first_idea: &str,
    f: &mut Findings,
) {
    let board = Some(ctx.board.as_str());
    let admin = Some(ctx.admin.as_str());
    let period = hub::uk_time::local(Utc::now()).format("%Y-%m").to_string();
    // The report to government names the five themes with most new ideas:
    // one each, so the first five by name.
    let mut themes: Vec<(String, String)> = (0..PAYLOADS.len())
        .filter(|&i| ctx.accepted("th", i))
        .map(|i| (text("th", i).trim().to_owned(), marker("th", i)))
        .collect();
    themes.sort();
    let mut in_report = ctx.expect_all(&["it", "rs", "or", "ct"]);
    in_report.extend(themes.into_iter().take(5).map(|(_, m)| m));

    for (path, token, expected) in [
        (
            "/board/inbox?kind=idea",
            board,
            ctx.expect_all(&["it", "tg"]),
        ),
        ("/board/inbox?kind=report", board, ctx.expect_all(&["rs"])),
        ("/board/themes", board, ctx.expect_all(&["th"])),
        ("/board/dashboard", board, vec![]),
        ("/reports", board, ctx.expect_all(&["rs", "or"])),
        ("/ideas", None, ctx.expect_all(&["it", "th"])),
        ("/consultations", None, ctx.expect_all(&["ct", "cs"])),
        ("/admin/users", admin, ctx.expect_all(&["dn"])),
        ("/admin/organisations", admin, ctx.expect_all(&["or"])),
    ] {
        every_page(ctx, f, path, token, &expected).await;
    }
    let query: Vec<String> = (0..PAYLOADS.len()).map(|i| marker("it", i)).collect();
    every_page(
        ctx,
        f,
        &format!("/search?q={}", query.join("+OR+")),
        board,
        &ctx.expect_all(&["it", "id"]),
    )
    .await;
    let import = format!("/admin/organisations/imports/{import_id}");
    let page = ctx.get(&import, admin).await;
    f.page(&import, &page, &ctx.expect_all(&["oj", "oc"]));
    let rejected = ctx.get(&format!("{import}/rejected.csv"), admin).await;
    f.csv(
        &format!("{import}/rejected.csv"),
        &rejected.body,
        &ctx.expect_all(&["oj", "oc"]),
    );
    let report = ctx
        .get(&format!("/board/report?period={period}"), board)
        .await;
    f.page("/board/report", &report, &in_report);
    let html = ctx
        .get(&format!("/board/report.html?period={period}"), board)
        .await;
    f.page("/board/report.html", &html, &in_report);
    let md = ctx
        .get(&format!("/board/report.md?period={period}"), board)
        .await;
    f.markdown("/board/report.md", &md.body, &in_report, &[]);
    let reports: Vec<String> = (0..PAYLOADS.len()).map(|i| marker("re", i)).collect();
    for (path, token, expected) in [
        (
            format!("/api/v1/board-report?period={period}"),
            board,
            in_report.clone(),
        ),
        (
            "/api/v1/inbox?limit=100".to_owned(),
            board,
            ctx.expect_all(&["it", "rs", "tg"]),
        ),
        ("/api/v1/dashboard".to_owned(), board, vec![]),
        (
            format!("/api/v1/search/similar?limit=20&item_kind=idea&item_id={first_idea}"),
            None,
            vec![],
        ),
        (
            format!("/api/v1/search?limit=100&q={}", reports.join("+OR+")),
            board,
            ctx.expect_all(&["rs", "re"]),
        ),
        (
            format!("/api/v1/organisations/imports/{import_id}"),
            admin,
            ctx.expect_all(&["oj", "oc"]),
        ),
    ] {
        let answer = ctx.get(&path, token).await;
        f.json(&path, &answer, &expected);
    }

    // Saved searches, as their reader sees them.
    for (k, token) in digest_tokens.iter().enumerate() {
        let reader = digest_reader(k);
        let page = ctx.get("/search/saved", Some(token)).await;
        f.page(
            &format!("/search/saved ({reader})"),
            &page,
            &ctx.expect_of(&["ss", "sq"], followed(k)),
        );
        let listed: Value = ctx
            .get("/api/v1/me/saved-searches", Some(token))
            .await
            .json();
        for saved in listed.as_array().expect("saved searches") {
            let id = id_of(saved);
            let page = ctx.get(&format!("/search/saved/{id}"), Some(token)).await;
            let name = saved["name"].as_str().unwrap_or_default();
            let q = saved["q"].as_str().unwrap_or_default();
            let expected: Vec<String> = followed(k)
                .flat_map(|i| {
                    let mut m = Vec::new();
                    if name.contains(&marker("ss", i)) {
                        m.extend(ctx.expect(&["ss", "it"], i));
                    }
                    if q.contains(&marker("sq", i)) {
                        m.extend(ctx.expect(&["sq"], i));
                    }
                    m
                })
                .collect();
            f.page(&format!("/search/saved/{id} ({reader})"), &page, &expected);
        }
    }
}

/// What a digest reader's digest names: their payloads' ideas and reports
/// (assigned to them) and saved searches (with new matches).
pub(super) fn in_digest(ctx: &Ctx, k: usize) -> Vec<String> {
    ctx.expect_of(&["it", "rs", "ss"], followed(k))
}

/// Each digest reader's digest: the preview (API and page), then sent.
pub(super) async fn check_digests(
    app: &TestApp,
    ctx: &Ctx,
    digest_tokens: &[String],
    f: &mut Findings,
) {
    for (k, token) in digest_tokens.iter().enumerate() {
        let expected = in_digest(ctx, k);
        let reader = digest_reader(k);
        let answer = ctx.get("/api/v1/me/digest/preview", Some(token)).await;
        f.json(
            &format!("/api/v1/me/digest/preview ({reader})"),
            &answer,
            &expected,
        );
        let preview = answer.json();
        f.markdown(
            &format!("the digest preview's Markdown ({reader})"),
            preview["markdown"].as_str().expect("markdown"),
            &expected,
            &[],
        );
        f.html(
            &format!("the digest preview's HTML ({reader})"),
            preview["html"].as_str().expect("html"),
            &expected,
        );
        f.shown(
            &format!("the digest preview's text ({reader})"),
            preview["text"].as_str().expect("text"),
            &expected,
        );
        let page = ctx.get("/board/digest/preview", Some(token)).await;
        f.page(
            &format!("/board/digest/preview ({reader})"),
            &page,
            &expected,
        );
        let user = entity::users::Entity::find()
            .filter(entity::users::Column::Email.eq(&reader))
            .one(&app.db)
            .await
            .expect("query")
            .expect("the reader");
        let sent = hub::digests::schedule::send_one(
            &app.state,
            &user,
            Utc::now(),
            hub::digests::schedule::Mode::Now,
        )
        .await
        .expect("digest");
        assert!(
            matches!(sent, hub::digests::schedule::Outcome::Sent { .. }),
            "{reader}: {sent:?}"
        );
    }
}

/// A delivered message's text and HTML parts, decoded.
pub(super) fn parts(raw: &str) -> BTreeMap<&'static str, String> {
    let boundary = raw
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    let chunks: Vec<&str> = match boundary {
        Some(b) => raw.split(&format!("--{b}")).skip(1).collect(),
        None => vec![raw],
    };
    let mut out = BTreeMap::new();
    for chunk in chunks {
        let Some((headers, body)) = chunk.split_once("\r\n\r\n") else {
            continue;
        };
        let headers = headers.to_ascii_lowercase();
        let kind = if headers.contains("content-type: text/html") {
            "html"
        } else if headers.contains("content-type: text/plain") {
            "text"
        } else {
            continue;
        };
        let decoded = if headers.contains("content-transfer-encoding: base64") {
            use base64::Engine;
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("a base64 part");
            String::from_utf8(bytes).expect("a UTF-8 part")
        } else if headers.contains("content-transfer-encoding: quoted-printable") {
            decode_quoted_printable(body)
        } else {
            body.to_owned()
        };
        out.insert(kind, decoded);
    }
    out
}

/// Every email, as delivered: both parts, each checked for what it should
/// show.
pub(super) async fn check_emails(
    app: &TestApp,
    ctx: &Ctx,
    worlds: &[World],
    readers: usize,
    f: &mut Findings,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let rows = email_outbox::Entity::find()
            .all(&app.db)
            .await
            .expect("outbox");
        if rows.iter().all(|r| r.status == "sent") {
            break rows;
        }
        assert!(Instant::now() < deadline, "emails still unsent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delivered: Vec<String> = app
        .mailbox
        .as_ref()
        .expect("the memory mailbox")
        .lock()
        .expect("mailbox")
        .iter()
        .map(|m| String::from_utf8_lossy(&m.formatted()).into_owned())
        .collect();
    let mut kinds = BTreeSet::new();
    for row in rows {
        // The worker gives each email the Message-ID of its outbox row.
        let message = delivered
            .iter()
            .find(|m| m.contains(&format!("<{}@", row.id)))
            .unwrap_or_else(|| panic!("`{}` was delivered", row.subject));
        let (kind, expected) = if let Some(w) = worlds.iter().find(|w| w.email == row.to_address) {
            let s = row.subject.as_str();
            let (kind, codes): (&str, &[&str]) =
                if s.starts_with("The HealthTech Advisory Board replied") {
                    ("reply", &["it", "nr"])
                } else if s.starts_with("Your idea is now") {
                    ("idea status", &["it", "sn"])
                } else if s.starts_with("Update on your report") {
                    ("report status", &["rs", "rn"])
                } else if s.starts_with("Your response to") {
                    ("consultation receipt", &["ct"])
                } else if s.starts_with("You said, we did") {
                    ("consultation outcome", &["ct"])
                } else {
                    panic!("an email nobody expected: {s}")
                };
            (kind, ctx.expect(codes, w.i))
        } else if let Some(k) = (0..readers).find(|&k| digest_reader(k) == row.to_address) {
            ("digest", in_digest(ctx, k))
        } else {
            panic!("an email to {} nobody expected", row.to_address)
        };
        kinds.insert(kind);
        let what = format!("the {kind} email to {}", row.to_address);
        let parts = parts(message);
        let text = parts
            .get("text")
            .unwrap_or_else(|| panic!("{what}: a text part"));
        f.shown(&format!("{what} (text part)"), text, &expected);
        let html = parts
            .get("html")
            .unwrap_or_else(|| panic!("{what}: an HTML part"));
        f.html(&format!("{what} (HTML part)"), html, &expected);
    }
    for kind in [
        "reply",
        "idea status",
        "report status",
        "consultation receipt",
        "consultation outcome",
        "digest",
    ] {
        assert!(kinds.contains(kind), "no {kind} email was sent");
    }
}
