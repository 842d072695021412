//! The order life cycle: pending -> paid -> shipped, and pending or paid -> cancelled.
//! Shipped and cancelled are final.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Stored as text (`db::columns`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Paid) | (Paid, Shipped) | (Pending | Paid, Cancelled)
        )
    }

    /// Whether the order's items are still taken out of stock.
    pub fn holds_stock(self) -> bool {
        self != OrderStatus::Cancelled
    }
}

impl FromStr for OrderStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| "must be one of pending, paid, shipped, cancelled".to_owned())
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;

    #[test]
    fn only_forward_transitions_and_cancellation_before_shipping_are_legal() {
        assert!(Pending.can_become(Paid));
        assert!(Paid.can_become(Shipped));
        assert!(Pending.can_become(Cancelled));
        assert!(Paid.can_become(Cancelled));
        assert!(!Pending.can_become(Shipped));
        assert!(!Shipped.can_become(Cancelled));
        assert!(!Cancelled.can_become(Pending));
        assert!(!Paid.can_become(Paid));
    }
}
