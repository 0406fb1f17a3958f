//! Tables shown on pages and exported as CSV and Excel from the same data, so every list and
//! report can be downloaded exactly as shown (`?format=csv` or `?format=xlsx` on its URL).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use crate::error::ServerError;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number shown with one decimal.
    Num(f64),
    /// Text linking to a page (exports keep the text).
    Link(String, String),
    /// Nothing.
    Empty,
}

impl Cell {
    /// Text of the cell as exported.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) | Cell::Link(t, _) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(x) => format!("{x:.1}"),
            Cell::Empty => String::new(),
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}
impl From<f64> for Cell {
    fn from(x: f64) -> Self {
        Cell::Num(x)
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(o: Option<T>) -> Self {
        o.map_or(Cell::Empty, Into::into)
    }
}

/// A table: column headings and rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// File name for exports (ASCII, no extension).
    pub name: String,
    /// Sheet title.
    pub title: String,
    /// Headings.
    pub columns: Vec<String>,
    /// Rows (each as long as `columns`).
    pub rows: Vec<Vec<Cell>>,
    /// Rows to highlight (same index as `rows`).
    pub warn: Vec<bool>,
}

impl Table {
    /// A new empty table.
    pub fn new(name: &str, title: &str, columns: &[&str]) -> Table {
        Table {
            name: name.to_string(),
            title: title.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            warn: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
        self.warn.push(false);
    }

    /// Adds a highlighted row (overdue, flagged).
    pub fn push_warn(&mut self, row: Vec<Cell>, warn: bool) {
        self.rows.push(row);
        self.warn.push(warn);
    }

    /// The table as HTML.
    pub fn html(&self, empty: &str) -> Markup {
        html! {
            @if self.rows.is_empty() {
                p.muted { (empty) }
            } @else {
                table {
                    thead { tr { @for c in &self.columns { th { (c) } } } }
                    tbody {
                        @for (i, row) in self.rows.iter().enumerate() {
                            tr.warn[self.warn.get(i).copied().unwrap_or(false)] {
                                @for cell in row {
                                    @match cell {
                                        Cell::Link(t, href) => td { a href=(href) { (t) } },
                                        Cell::Int(_) | Cell::Num(_) => td.num { (cell.text()) },
                                        _ => td { (cell.text()) },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The table as CSV (UTF-8 with a byte-order mark so Excel reads the Chinese).
    pub fn csv(&self) -> Result<Vec<u8>, ServerError> {
        let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        let fail = |e: csv::Error| ServerError::Internal(format!("csv: {e}"));
        w.write_record(&self.columns).map_err(fail)?;
        for row in &self.rows {
            w.write_record(row.iter().map(Cell::text)).map_err(fail)?;
        }
        w.into_inner().map_err(|e| ServerError::Internal(format!("csv: {e}")))
    }

    /// The table as an Excel workbook with one sheet.
    pub fn xlsx(&self) -> Result<Vec<u8>, ServerError> {
        use rust_xlsxwriter::{Format, Workbook};
        let fail = |e: rust_xlsxwriter::XlsxError| ServerError::Internal(format!("xlsx: {e}"));
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        // Sheet names: at most 31 characters, none of []:*?/\.
        let name: String =
            self.title.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect::<String>();
        if !name.trim().is_empty() {
            sheet.set_name(name.trim()).map_err(fail)?;
        }
        let bold = Format::new().set_bold();
        for (c, h) in self.columns.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, h, &bold).map_err(fail)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Int(n) => sheet.write_number(r, c, *n as f64).map(|_| ()),
                    Cell::Num(x) => sheet.write_number(r, c, *x).map(|_| ()),
                    Cell::Empty => Ok(()),
                    other => sheet.write_string(r, c, other.text()).map(|_| ()),
                }
                .map_err(fail)?;
            }
        }
        sheet.autofit();
        book.save_to_buffer().map_err(fail)
    }

    /// The table as a download in `format` (`csv` or `xlsx`).
    pub fn download(&self, format: &str) -> Result<Response, ServerError> {
        let (bytes, mime, ext) = match format {
            "csv" => (self.csv()?, "text/csv; charset=utf-8", "csv"),
            "xlsx" => {
                (self.xlsx()?, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
            }
            other => {
                return Err(ServerError::BadRequest(format!("unknown export format {other:?}: csv or xlsx")))
            }
        };
        let mut r = bytes.into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        let disp = format!("attachment; filename=\"{}.{ext}\"", self.name);
        if let Ok(v) = HeaderValue::from_str(&disp) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        Ok(r)
    }
}

/// Links to this page's CSV and Excel exports (`here` is the page's path and query).
pub fn export_links(here: &str, csv: &str, excel: &str) -> Markup {
    let base = here.to_string();
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        div.exports {
            a.export href={ (base) (sep) "format=csv" } download { (csv) }
            " · "
            a.export href={ (base) (sep) "format=xlsx" } download { (excel) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new("customers", "客户", &["姓名", "数量", "得分"]);
        t.push(vec!["王女士, \"VIP\"".into(), Cell::Int(3), Cell::Num(88.25)]);
        t.push(vec![Cell::Link("李先生".into(), "/c/1".into()), Cell::Empty, Cell::Num(70.0)]);
        t
    }

    #[test]
    fn csv_quotes_and_keeps_chinese() {
        let bytes = sample().csv().unwrap_or_default();
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap_or_default();
        assert_eq!(text, "姓名,数量,得分\n\"王女士, \"\"VIP\"\"\",3,88.2\n李先生,,70.0\n");
    }

    #[test]
    fn xlsx_is_a_zip_workbook() {
        let bytes = sample().xlsx().unwrap_or_default();
        assert!(bytes.starts_with(b"PK"), "an xlsx file is a zip archive");
        assert!(bytes.len() > 1000);
    }

    #[test]
    fn unknown_format_is_a_bad_request() {
        assert!(matches!(sample().download("pdf"), Err(ServerError::BadRequest(_))));
    }
}
