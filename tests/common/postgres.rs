//! A fresh PostgreSQL database for a test, on the server `FLUXO_TEST_POSTGRES` names (a URL
//! such as `postgres://postgres@127.0.0.1:5432/test`); without it, a visible `SKIPPED`.

/// A fresh database on the PostgreSQL server of `FLUXO_TEST_POSTGRES`, dropped at the end.
pub struct Database {
    admin: String,
    name: String,
    pub url: String,
}

impl Database {
    pub async fn create(tag: &str) -> Option<Database> {
        let Ok(admin) = std::env::var("FLUXO_TEST_POSTGRES") else {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {tag}: set FLUXO_TEST_POSTGRES to a PostgreSQL URL to run it"
            );
            return None;
        };
        let name = format!("fluxo_{tag}_{}", std::process::id());
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("connect to FLUXO_TEST_POSTGRES");
        tokio::spawn(conn);
        let _ = client
            .execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
            .await;
        client
            .execute(&format!("CREATE DATABASE {name}"), &[])
            .await
            .expect("create database");
        let url = match admin.rfind('/') {
            Some(i) if i > admin.find("://").map_or(0, |p| p + 2) => {
                format!("{}/{name}", &admin[..i])
            }
            _ => format!("{admin}/{name}"),
        };
        Some(Database { admin, name, url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(conn);
                client
                    .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), &[])
                    .await
                    .ok()
            })
        })
        .join();
    }
}
