//! Any SOAP answer: envelope and fault parsing (both SOAP versions) into typed errors, and every
//! response reader the client has, run on the Body's first element.
#![no_main]

use doorbell_bridge::onvif::{self, device, media, properties, pullpoint, soap};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(doc) = soap::parse(&text) else {
        return;
    };
    if let Some(fault) = soap::fault_in(&doc) {
        let _ = fault.summary();
        let _ = (fault.is_not_authorized(), fault.is_action_not_supported());
        let _ = fault.is_subscription_lost();
        let error = onvif::Error::from_fault("http://192.0.2.1/onvif", "action", fault);
        let _ = (error.to_string(), error.retry());
    }
    let Ok(body) = soap::body(&doc) else {
        return;
    };
    let Some(response) = body.children().find(|n| n.is_element()) else {
        return;
    };
    let configured: Url = "http://192.0.2.1/onvif/device_service".parse().unwrap();
    let _ = pullpoint::parse_created(response, &configured);
    let _ = pullpoint::parse_pull(response);
    let _ = device::parse_services(response, &configured);
    let _ = device::parse_capabilities(response, &configured);
    let _ = device::parse_system_time(response);
    let _ = device::parse_device_information(response, &configured);
    let profiles = media::parse_profiles(response);
    let _ = media::best_profile(&profiles);
    let _ = media::parse_snapshot_uri(response);
    let _ = properties::topics_in(response);
});
