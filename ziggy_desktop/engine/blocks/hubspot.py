"""hubspot_read and hubspot_write: HubSpot CRM v3 objects, batched, rate limited, retried."""
