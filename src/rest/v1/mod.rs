//! `/api/v1`: one module per resource.

pub mod auth;
pub mod orders;
pub mod posts;
pub mod products;
pub mod rooms;
pub mod users;

use actix_web::web;

use crate::http::rate_limit::RateLimits;
use crate::http::routing::Endpoint;

/// Mounts the resources, a scope each: a request is matched against its own resource's few
/// routes (`/products/{id}` no longer tries the `/users/…` patterns first). The sign-in budget
/// wraps only the two resources it guards (its key extractor then tells `POST /users` from
/// `GET /users`), so the other routes do not pass through a limiter that would only wave them
/// on.
pub fn configure(cfg: &mut web::ServiceConfig, limits: &RateLimits) {
    cfg.service(
        web::scope("/auth")
            .service(
                Endpoint::new("/token")
                    .post(auth::token)
                    .build()
                    .wrap(limits.credentials_middleware()),
            )
            .service(Endpoint::new("/revoke").post(auth::revoke).build()),
    )
    .service(
        web::scope("/users")
            .service(
                Endpoint::new("")
                    .get(users::list)
                    .post(users::register)
                    .build()
                    .wrap(limits.credentials_middleware()),
            )
            .service(Endpoint::new("/me").get(users::me).build())
            .service(
                Endpoint::new("/{id}")
                    .get(users::get)
                    .put(users::replace)
                    .patch(users::patch)
                    .delete(users::delete)
                    .build(),
            )
            .service(
                Endpoint::new("/{id}/posts")
                    .get(posts::list_by_user)
                    .build(),
            ),
    )
    .service(
        web::scope("/products")
            .service(
                Endpoint::new("")
                    .get(products::list)
                    .post(products::create)
                    .build(),
            )
            .service(
                Endpoint::new("/{id}")
                    .get(products::get)
                    .put(products::replace)
                    .patch(products::patch)
                    .delete(products::delete)
                    .build(),
            ),
    )
    .service(
        web::scope("/posts")
            .service(
                Endpoint::new("")
                    .get(posts::list)
                    .post(posts::create)
                    .build(),
            )
            .service(
                Endpoint::new("/{id}")
                    .get(posts::get)
                    .put(posts::replace)
                    .patch(posts::patch)
                    .delete(posts::delete)
                    .build(),
            ),
    )
    .service(
        web::scope("/orders")
            .service(
                Endpoint::new("")
                    .get(orders::list)
                    .post(orders::create)
                    .build(),
            )
            .service(
                Endpoint::new("/{id}")
                    .get(orders::get)
                    .patch(orders::patch)
                    .delete(orders::delete)
                    .build(),
            ),
    )
    .service(
        web::scope("/rooms")
            .service(
                Endpoint::new("")
                    .get(rooms::list)
                    .post(rooms::create)
                    .build(),
            )
            .service(Endpoint::new("/{name}").get(rooms::get).build())
            .service(
                Endpoint::new("/{name}/messages")
                    .get(rooms::messages)
                    .post(rooms::post_message)
                    .build(),
            )
            .service(
                Endpoint::new("/{name}/messages/{id}")
                    .get(rooms::get_message)
                    .delete(rooms::delete_message)
                    .build(),
            )
            .service(Endpoint::new("/{name}/members").get(rooms::members).build())
            .service(
                Endpoint::new("/{name}/members/{id}")
                    .put(rooms::add_member)
                    .delete(rooms::remove_member)
                    .build(),
            ),
    );
}
